"""`jdryad got OBJ` and `jdryad plt OBJ`: every GOT or PLT slot of one object.

From the query server (op `slots`): relocation, symbol, what jdryad decided (bound at load,
bound lazily by which call and when, unbound), what the slot holds now and what that points at,
the RELRO state of its page, and TAMPERED where the slot no longer holds what jdryad wrote.
Without the server: one line saying so, then what the inferior's memory alone tells: the
object's relocation tables found through r_debug and its dynamic section, each slot's current
value as a gdb symbol.
"""
import struct

import gdb

from . import client, completion, fallback
from . import format as fmt

_TLS = ("R_X86_64_DTPMOD64", "R_X86_64_DTPOFF64", "R_X86_64_TPOFF64")
_TYPES = {1: "R_X86_64_64", 6: "R_X86_64_GLOB_DAT", 7: "R_X86_64_JUMP_SLOT", 8: "R_X86_64_RELATIVE",
          16: "R_X86_64_DTPMOD64", 17: "R_X86_64_DTPOFF64", 18: "R_X86_64_TPOFF64", 36: "R_X86_64_TLSDESC",
          37: "R_X86_64_IRELATIVE"}
_GOT_TYPES = (6, 16, 17, 18, 36)  # from memory alone there are no section headers: no .got range
DT_NULL, DT_PLTRELSZ, DT_STRTAB, DT_SYMTAB, DT_RELA, DT_RELASZ, DT_STRSZ, DT_JMPREL = 0, 2, 5, 6, 7, 8, 10, 23
MAX_DYNAMIC = 4096     # entries of a dynamic section read at most
MAX_TABLE = 16 << 20   # bytes of one relocation table read at most
MAX_NAME = 1024


def _reloc(name):
    return (name or "-").replace("R_X86_64_", "")


def _ms(ns):
    return "%.3f ms" % (ns / 1e6) if isinstance(ns, (int, float)) else "?"


def _value(text, is_address):
    """An address as gdb prints it (`0x... <sym+off>`), a number as hex."""
    if text is None:
        return "(unreadable)"
    return fmt.address(text) if is_address else str(text)


def _holds(s):
    """What the slot holds now, and for an address the object it lies in."""
    shown = _value(s.get("current"), s.get("value") == "address")
    target = s.get("target")
    if s.get("current") is not None and target and target.get("object"):
        if "<" not in shown and target.get("symbol"):
            shown += " <%s+%d>" % (target["symbol"], target.get("symbol_offset", 0))
        shown += " in " + fmt.short_name(target["object"])
    return shown


def _state(s):
    b = s.get("binding") or {}
    state = s.get("state")
    seq = "#%d " % b["seq"] if b.get("seq") is not None else ""
    if state == "lazy":
        text = "bound lazily %sat %s" % (seq, _ms(b.get("time_ns")))
        if b.get("call_site"):
            text += " by the call from " + fmt.call_site(b["call_site"])
    elif state == "lazy-not-patched":
        text = "resolved per call, slot not patched (LD_BIND_NOT) %s" % seq
    elif state in ("eager", "ifunc"):
        text = "bound at load %s" % seq + ("(IFUNC)" if state == "ifunc" else "")
    elif state == "unbound":
        text = "unbound: not called yet"
    elif state == "host":
        text = "glibc's (host object)"
    elif state == "host-rebind":
        text = "re-bound by jdryad %s" % seq
    elif state == "reserved":
        text = "reserved: " + str(s.get("note"))
    elif state == "tls":
        text = "TLS %s(%s)" % (seq, s.get("note"))
    else:
        text = str(state) + (" (%s)" % s["note"] if s.get("note") else "")
    return text.strip()


def _relro(r):
    if not r:
        return "?"
    perms = r.get("perms") or "?"
    if r.get("protected"):
        return "RELRO " + perms + (" WRITABLE AGAIN" if "w" in perms else "")
    if r.get("in_relro"):
        return "RELRO tail (page not protected) " + perms
    return "no RELRO " + perms


def render(result):
    """The table of a `slots` answer."""
    kind = result.get("kind", "?")
    slots = result.get("slots") or []
    owner = "host object, relocated by glibc's loader" if result.get("host") else \
        "jdryad, bound lazily" if result.get("lazy") else "jdryad, bound at load"
    out = ["%s slots of %s (%s; base %s, pid %s)\n" % (kind.upper(), result.get("object"), owner,
                                                      result.get("base"), result.get("pid"))]
    relro = result.get("relro")
    if relro:
        out.append("PT_GNU_RELRO %s-%s, read-only after relocation: %s-%s\n"
                   % (relro["start"], relro["end"], relro["protected_start"], relro["protected_end"]))
    if result.get("memory") == "unreadable":
        out.append("the process's memory cannot be read (it ended?): no current values\n")
    if not slots:
        out.append("no %s slots\n" % kind.upper())
        return "".join(out)
    rows, tampered = [], []
    for s in slots:
        state = _state(s)
        if s.get("tampered"):
            state = "TAMPERED: jdryad wrote %s; was %s" % (_value(s.get("expected"), s.get("value") == "address"),
                                                          state)
            tampered.append(s)
        sym = (s.get("symbol") or "-") + ("@" + s["version"] if s.get("version") else "")
        rows.append(["!!" if s.get("tampered") else "", fmt.address(s.get("slot")), _reloc(s.get("relocation")), sym,
                     _holds(s), _relro(s.get("relro")), state])
    out.append(fmt.table(rows, ["", "SLOT", "RELOCATION", "SYMBOL", "HOLDS NOW", "PAGE", "STATE"]))
    counts = {}
    for s in slots:
        counts[s.get("state")] = counts.get(s.get("state"), 0) + 1
    summary = ", ".join("%d %s" % (n, k) for k, n in sorted(counts.items()))
    out.append("%d slots: %s%s\n" % (len(slots), summary, "; %d TAMPERED" % len(tampered) if tampered else ""))
    for s in tampered:
        out.append("TAMPERED: %s (%s) holds %s, not what jdryad wrote (%s)\n"
                   % (fmt.address(s.get("slot")), s.get("symbol") or "-", _holds(s),
                      _value(s.get("expected"), s.get("value") == "address")))
    if result.get("truncated"):
        out.append("(only the first %d slots)\n" % len(slots))
    return "".join(out)


# ---- from the inferior's memory alone ----

def _read(inferior, address, length):
    return bytes(inferior.read_memory(address, length))


def _objects(inferior):
    """(l_addr, name, l_ld) of each node of r_debug's list."""
    r_debug = int(gdb.parse_and_eval("&_r_debug").cast(gdb.lookup_type("unsigned long")))
    node = fallback._word(inferior, r_debug + 8)
    out = []
    while node and len(out) < 100000:
        l_addr, l_name, l_ld, l_next = struct.unpack("<QQQQ", _read(inferior, node, 32))
        out.append((l_addr, fallback._string(inferior, l_name, MAX_NAME), l_ld))
        node = l_next
    return out


def _names(name, path):
    return bool(path) and (path == name or path.endswith("/" + name))


def _dynamic(inferior, l_addr, l_ld):
    """The dynamic section's entries, addresses moved by the load bias where the loader left them unmoved."""
    tags = {}
    for i in range(MAX_DYNAMIC):
        tag, value = struct.unpack("<qQ", _read(inferior, l_ld + 16 * i, 16))
        if tag == DT_NULL:
            break
        tags.setdefault(tag, value)
    for t in (DT_STRTAB, DT_SYMTAB, DT_RELA, DT_JMPREL):
        # glibc's loader relocates these in place; jdryad leaves link-time addresses
        if t in tags and l_addr and tags[t] < l_addr:
            tags[t] = (tags[t] + l_addr) & 0xffffffffffffffff
    return tags


def _symbol(inferior, tags, index):
    if index == 0:
        return "-"
    if DT_SYMTAB not in tags or DT_STRTAB not in tags:
        return "(symbol %d)" % index
    try:
        st_name = struct.unpack("<I", _read(inferior, tags[DT_SYMTAB] + 24 * index, 4))[0]
        if DT_STRSZ in tags and st_name >= tags[DT_STRSZ]:
            return "(symbol %d: name outside DT_STRTAB)" % index
        return fallback._string(inferior, tags[DT_STRTAB] + st_name, MAX_NAME) or "(symbol %d)" % index
    except gdb.MemoryError:
        return "(symbol %d: unreadable)" % index


def _perms(pid):
    """/proc/PID/maps as (start, end, perms), or [] (a core file, another machine)."""
    out = []
    try:
        with open("/proc/%d/maps" % pid) as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 2 and "-" in fields[0]:
                    lo, hi = fields[0].split("-", 1)
                    out.append((int(lo, 16), int(hi, 16), fields[1]))
    except (OSError, ValueError):
        return []
    return out


def from_memory(name, kind):
    """The slots as the inferior's memory shows them: r_debug's node, its dynamic section, its tables."""
    inferior = fallback._inferior()
    try:
        objects = _objects(inferior)
    except (gdb.error, gdb.MemoryError) as e:
        raise gdb.GdbError("jdryad: cannot walk r_debug's list (%s)" % e)
    hits = [o for o in objects if _names(name, o[1])]
    if not hits:
        raise gdb.GdbError("jdryad: no object named %s in r_debug's list" % name)
    l_addr, path, l_ld = hits[0]
    try:
        tags = _dynamic(inferior, l_addr, l_ld)
        table, size = (DT_JMPREL, DT_PLTRELSZ) if kind == "plt" else (DT_RELA, DT_RELASZ)
        if table not in tags:
            return "from r_debug and %s's dynamic section: no %s relocations\n" % (path, kind.upper())
        length = tags.get(size, 0)
        if length % 24 or length > MAX_TABLE:
            raise gdb.GdbError("jdryad: %s's relocation table has a size of %d bytes" % (path, length))
        raw = _read(inferior, tags[table], length)
    except gdb.MemoryError as e:
        raise gdb.GdbError("jdryad: cannot read %s's dynamic section or relocations (%s)" % (path, e))
    maps = _perms(inferior.pid)
    rows, unbound = [], 0
    entries = sorted(struct.unpack_from("<QQq", raw, 24 * i) for i in range(length // 24))
    for r_offset, r_info, _addend in entries:
        rtype = r_info & 0xffffffff
        if kind == "got" and rtype not in _GOT_TYPES:
            continue
        rname = _TYPES.get(rtype, "type %d" % rtype)
        slot = (l_addr + r_offset) & 0xffffffffffffffff
        try:
            current = fallback._word(inferior, slot)
            holds = hex(current) if rname in _TLS else fmt.address(current)
            where = gdb.current_progspace().solib_name(current) if rname not in _TLS else None
            if where:
                holds += " in " + fmt.short_name(where)
        except gdb.MemoryError:
            holds = "(unreadable)"
        if kind == "plt" and "@plt" in holds:
            unbound += 1
            holds += "  (back into the PLT: unbound)"
        perms = next((p for lo, hi, p in maps if lo <= slot < hi), "?")
        rows.append([fmt.address(slot), _reloc(rname), _symbol(inferior, tags, r_info >> 32), perms, holds])
    head = "from r_debug and %s's dynamic section (%s slots; no record of what jdryad wrote):\n" % (path, kind.upper())
    if not rows:
        return head + "no %s slots\n" % kind.upper()
    tail = "%d slots%s\n" % (len(rows), ", %d unbound" % unbound if kind == "plt" else "")
    return head + fmt.table(rows, ["SLOT", "RELOCATION", "SYMBOL", "PAGE", "HOLDS NOW"]) + tail


# ---- the commands ----

class _Slots(gdb.Command):
    kind = None

    def __init__(self):
        super().__init__("jdryad " + self.kind, gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        try:
            argv = gdb.string_to_argv(arg)
        except Exception as e:  # an unbalanced quote
            raise gdb.GdbError("jdryad %s: %s" % (self.kind, e))
        if len(argv) != 1 or argv[0].startswith("--"):
            raise gdb.GdbError("usage: jdryad %s OBJ (a path, file name or soname: see jdryad linkmap)" % self.kind)
        name = argv[0]
        try:
            result = client.query("slots", object=name, kind=self.kind)
        except client.QueryError as e:
            raise gdb.GdbError("jdryad: %s" % e)
        except client.Unreachable as e:
            gdb.write("jdryad: the query server cannot be reached (%s); from the inferior's memory:\n" % e)
            try:
                gdb.write(from_memory(name, self.kind))
            except gdb.GdbError:
                raise
            except (gdb.error, ValueError, OverflowError, struct.error) as e:
                raise gdb.GdbError("jdryad: the inferior's memory does not tell (%s)" % e)
            return
        if not isinstance(result, dict):
            raise gdb.GdbError("jdryad: the server's answer is not a slot table")
        try:
            gdb.write(render(result))
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise gdb.GdbError("jdryad: the server's slot table is malformed (%s)" % e)

    def complete(self, text, word):
        return completion.complete(text, word, {}, {None: completion.object_names})


class Got(_Slots):
    """Every GOT slot of an object: jdryad got OBJ

OBJ: a path, file name or soname (see jdryad linkmap). For each GLOB_DAT, TLS and .got slot: the
relocation, the symbol, how jdryad bound it (at load, by which binding), what it holds now and
what that points at (0x... <sym+off> in OBJ), the page's RELRO state and permissions. A slot that
no longer holds what jdryad wrote is marked TAMPERED (`!!`). Without jdryad's query server: what
the inferior's memory alone shows (the GLOB_DAT and TLS slots, their values as gdb symbols)."""
    kind = "got"


class Plt(_Slots):
    """Every PLT slot (.got.plt jump slot) of an object: jdryad plt OBJ

OBJ: a path, file name or soname (see jdryad linkmap). For each jump slot: the symbol, whether it
is bound (lazily: when, and by the call from which call site; at load) or still unbound, what it
holds now and what that points at, the page's RELRO state; GOT[1] and GOT[2] of a lazily bound
object (its id and the trampoline). A slot that no longer holds what jdryad wrote (overwritten
behind the linker's back) is marked TAMPERED (`!!`) with what it now points at. Without jdryad's
query server: what the inferior's memory alone shows (each slot's value as a gdb symbol)."""
    kind = "plt"


def register():
    for command in (Got, Plt):
        command()
