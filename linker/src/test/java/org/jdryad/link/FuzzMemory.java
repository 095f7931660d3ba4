package org.jdryad.link;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import org.jdryad.elf.FileIdentity;

/**
 * The link fuzz target's address space: like {@link FakeMemory}, but sparse at every level (a
 * reservation or an anonymous mapping of a terabyte costs nothing until a page is touched) and
 * strict about the contract the real agent cannot check for itself, since it carries out plain
 * stores and calls: every write must land on a page the plan mapped writable, every read on a
 * readable one, every call in executable memory of a jdryad object or in a host object, every
 * request page-aligned with a positive length inside the user address space. A breach throws
 * {@link ContractViolation}: a finding, unlike the LinkException a well-behaved plan raises.
 * Host objects' ranges are readable and callable (their IFUNC resolvers "return" their own
 * address plus 0x10), never writable.
 */
final class FuzzMemory implements TargetMemory {
    static final long PAGE = 4096;
    /** The top of the x86-64 user address space (47 bits). */
    static final long USER_TOP = 1L << 47;

    /** A breach of the address-space contract. */
    static final class ContractViolation extends AssertionError {
        private static final long serialVersionUID = 1L;

        ContractViolation(String what) {
            super(what);
        }
    }

    /** A run of pages with one state. {@code file} null: anonymous (zeros); prot -1: reserved only. */
    private record Run(long end, int prot, byte[] file, long fileStart) {
    }

    private final TreeMap<Long, Run> runs = new TreeMap<>();
    private final Map<Long, byte[]> dirty = new HashMap<>();
    private final Map<Path, byte[]> files = new HashMap<>();
    private final Map<Path, FileIdentity> identities = new HashMap<>();
    private final TreeMap<Long, Long> hosts = new TreeMap<>();
    private long next = 0x7e00_0000_0000L;
    private int calls;

    /** The bytes a mapFile of {@code path} reads (the fuzzed file as written). */
    void file(Path path, FileIdentity identity, byte[] bytes) {
        files.put(path, bytes);
        identities.put(path, identity);
    }

    /** A host object's range: readable and callable, never written. */
    void host(long start, long length) {
        hosts.put(start, start + length);
    }

    int calls() {
        return calls;
    }

    @Override
    public long pageSize() {
        return PAGE;
    }

    @Override
    public long reserve(long address, long length, boolean fixed) {
        if (length <= 0 || length > USER_TOP) {
            throw new ContractViolation("reserve of 0x" + Long.toHexString(length) + " bytes");
        }
        long len = roundUp(length);
        long start;
        if (fixed) {
            aligned(address, "reserve");
            if (address < 0 || address + len > USER_TOP || address + len < address) {
                // As the agent's mmap(MAP_FIXED_NOREPLACE) refuses: AgentMemory says so as a LinkException.
                throw new LinkException(String.format("cannot map 0x%x bytes at the fixed address 0x%x", length, address));
            }
            if (overlapsAnything(address, address + len)) {
                throw new LinkException(String.format("cannot map 0x%x bytes at the fixed address 0x%x", length, address));
            }
            start = address;
        } else {
            if (next + len > USER_TOP || next + len < next) {
                throw new LinkException("cannot reserve 0x" + Long.toHexString(length) + " bytes: address space exhausted");
            }
            start = next;
            next += len + 16 * PAGE;
        }
        runs.put(start, new Run(start + len, -1, null, 0));
        return start;
    }

    @Override
    public void mapFile(long address, long length, int prot, Path file, FileIdentity identity, long fileOffset) {
        aligned(address, "mapFile");
        if (fileOffset % PAGE != 0 || fileOffset < 0) {
            throw new ContractViolation("mapFile at file offset 0x" + Long.toHexString(fileOffset));
        }
        byte[] bytes = files.get(file);
        if (bytes == null || !identities.get(file).equals(identity)) {
            throw new ContractViolation("mapFile of " + file + ", which the plan did not open (or changed identity)");
        }
        overlay(address, length, prot, bytes, fileOffset, "mapFile");
    }

    @Override
    public void mapAnonymous(long address, long length, int prot) {
        aligned(address, "mapAnonymous");
        overlay(address, length, prot, null, 0, "mapAnonymous");
    }

    @Override
    public void protect(long address, long length, int prot) {
        aligned(address, "protect");
        if (length <= 0) {
            throw new ContractViolation("mprotect of 0x" + Long.toHexString(length) + " bytes at 0x" + Long.toHexString(address));
        }
        long end = address + roundUp(length);
        requireReserved(address, end, "mprotect");
        split(address);
        split(end);
        for (Map.Entry<Long, Run> e : runs.subMap(address, end).entrySet()) {
            Run r = e.getValue();
            if (r.prot() < 0 && prot != PROT_NONE) {
                throw new ContractViolation("mprotect of reserved-only pages at 0x" + Long.toHexString(e.getKey()));
            }
            e.setValue(new Run(r.end(), r.prot() < 0 ? -1 : prot, r.file(), r.fileStart()));
        }
    }

    @Override
    public void write(long address, byte[] bytes) {
        for (int i = 0; i < bytes.length; ) {
            long a = address + i;
            byte[] page = page(a, PROT_WRITE, "write of " + bytes.length + " bytes at 0x" + Long.toHexString(address));
            int off = (int) (a & (PAGE - 1));
            int n = (int) Math.min(bytes.length - i, PAGE - off);
            System.arraycopy(bytes, i, page, off, n);
            i += n;
        }
    }

    @Override
    public byte[] read(long address, int length) {
        if (length < 0) {
            throw new ContractViolation("read of " + length + " bytes");
        }
        if (inHost(address, length)) {
            return new byte[length];
        }
        byte[] out = new byte[length];
        for (int i = 0; i < length; ) {
            long a = address + i;
            byte[] page = page(a, PROT_READ, "read of " + length + " bytes at 0x" + Long.toHexString(address));
            int off = (int) (a & (PAGE - 1));
            int n = (int) Math.min(length - i, PAGE - off);
            System.arraycopy(page, off, out, i, n);
            i += n;
        }
        return out;
    }

    @Override
    public void writeWords(long[] addresses, long[] values, int count) {
        for (int i = 0; i < count; i++) {
            write(addresses[i], FakeMemory.le(values[i]));
        }
    }

    @Override
    public long call(long function, long... args) {
        calls++;
        if (inHost(function, 1)) {
            return function + 0x10;
        }
        Map.Entry<Long, Run> e = runs.floorEntry(function);
        if (e == null || function >= e.getValue().end() || e.getValue().prot() < 0
                || (e.getValue().prot() & PROT_EXEC) == 0) {
            throw new ContractViolation("call 0x" + Long.toHexString(function) + ": not executable memory of the plan");
        }
        return function + 0x10;
    }

    // ------------------------------------------------------------------------------------------

    private boolean inHost(long address, long length) {
        Map.Entry<Long, Long> h = hosts.floorEntry(address);
        return h != null && address + length <= h.getValue() && address + length >= address;
    }

    private boolean overlapsAnything(long start, long end) {
        Map.Entry<Long, Run> below = runs.floorEntry(start);
        if (below != null && below.getValue().end() > start) {
            return true;
        }
        Long above = runs.ceilingKey(start);
        return above != null && above < end;
    }

    private void overlay(long address, long length, int prot, byte[] file, long fileOffset, String what) {
        if (length <= 0) {
            throw new ContractViolation(what + " of 0x" + Long.toHexString(length) + " bytes at 0x" + Long.toHexString(address));
        }
        long end = address + roundUp(length);
        requireReserved(address, end, what);
        split(address);
        split(end);
        runs.subMap(address, end).clear();
        runs.put(address, new Run(end, prot, file, fileOffset - address));
        dirty.keySet().removeIf(k -> k >= address && k < end);
    }

    /** The whole range must lie inside reservations made before (the agent maps only there). */
    private void requireReserved(long start, long end, String what) {
        if (end <= start || end > USER_TOP) {
            throw new ContractViolation(what + " of [0x" + Long.toHexString(start) + ", 0x" + Long.toHexString(end) + ")");
        }
        long a = start;
        while (a < end) {
            Map.Entry<Long, Run> e = runs.floorEntry(a);
            if (e == null || e.getValue().end() <= a) {
                throw new ContractViolation(what + " at 0x" + Long.toHexString(a) + " outside every reservation");
            }
            a = e.getValue().end();
        }
    }

    private void split(long at) {
        Map.Entry<Long, Run> e = runs.floorEntry(at);
        if (e == null || e.getKey() == at || e.getValue().end() <= at) {
            return;
        }
        Run r = e.getValue();
        runs.put(e.getKey(), new Run(at, r.prot(), r.file(), r.fileStart()));
        runs.put(at, new Run(r.end(), r.prot(), r.file(), r.fileStart()));
    }

    private byte[] page(long address, int need, String what) {
        Map.Entry<Long, Run> e = runs.floorEntry(address);
        if (e == null || address >= e.getValue().end()) {
            throw new ContractViolation(what + ": 0x" + Long.toHexString(address) + " is not mapped by the plan"
                    + (inHost(address, 1) ? " (it is a host object's)" : ""));
        }
        Run r = e.getValue();
        if (r.prot() < 0 || (r.prot() & need) == 0) {
            throw new ContractViolation(what + ": page 0x" + Long.toHexString(address & -PAGE) + " has protection "
                    + (r.prot() < 0 ? "reserved-only" : r.prot()));
        }
        long p = address & -PAGE;
        byte[] data = dirty.get(p);
        if (data == null) {
            data = new byte[(int) PAGE];
            if (r.file() != null) {
                long off = r.fileStart() + p;
                if (off >= 0 && off < r.file().length) {
                    System.arraycopy(r.file(), (int) off, data, 0, (int) Math.min(PAGE, r.file().length - off));
                }
            }
            if (dirty.size() > 65536) {
                throw new ContractViolation("the plan touched more than 256 MiB of pages");
            }
            dirty.put(p, data);
        }
        return data;
    }

    private static void aligned(long address, String what) {
        if ((address & (PAGE - 1)) != 0) {
            throw new ContractViolation(what + " at 0x" + Long.toHexString(address) + ", which is not page-aligned");
        }
    }

    private static long roundUp(long v) {
        return (v + PAGE - 1) & -PAGE;
    }
}
