"""What the inferior's memory alone tells, for when the query server cannot be reached.

The link map: glibc's `_r_debug` list, which jdryad keeps for gdb (struct r_debug:
r_version, r_map, ...; struct link_map: l_addr, l_name, l_ld, l_next, l_prev). The events: the
agent's `jdryad_activity_ring` (native/jdryad_activity.h), the last 32 of them.

"The inferior's memory" is a live process's or a core file's: both have threads and memory
(a core's inferior may have no pid), a program not started yet has neither.
"""
import struct

import gdb

from . import format as fmt

STATES = {0: "consistent", 1: "add", 2: "delete"}
CAUSES = {1: "startup", 2: "dlopen", 3: "dlclose", 4: "dlopen-failed"}


def _inferior():
    inferior = gdb.selected_inferior()
    if inferior is None or gdb.selected_thread() is None:
        raise gdb.GdbError("the program is not running (no process, no core file): "
                           "the inferior's memory has nothing to show")
    return inferior


def _address(expression):
    return int(gdb.parse_and_eval(expression).cast(gdb.lookup_type("unsigned long")))


def _r_debug(inferior):
    """glibc's r_debug: ld.so's _r_debug, else DT_DEBUG in _DYNAMIC (as the agent finds it), for
    a gdb that has not read ld.so's symbols."""
    try:
        return _address("&_r_debug")
    except gdb.error as first:
        try:
            dyn = _address("&_DYNAMIC")
        except gdb.error:
            raise first
        for i in range(4096):
            tag, value = struct.unpack("<qQ", bytes(inferior.read_memory(dyn + 16 * i, 16)))
            if tag == 0:
                break
            if tag == 21 and value:  # DT_DEBUG
                return value
        raise gdb.error("no DT_DEBUG in _DYNAMIC")


def _word(inferior, address):
    return struct.unpack("<Q", bytes(inferior.read_memory(address, 8)))[0]


def _string(inferior, address, limit=4096):
    if address == 0:
        return ""
    out = b""
    while len(out) < limit:
        try:
            chunk = bytes(inferior.read_memory(address + len(out), 256))
        except gdb.MemoryError:
            chunk = bytes(inferior.read_memory(address + len(out), 1))
        nul = chunk.find(b"\0")
        if nul >= 0:
            return (out + chunk[:nul]).decode("utf-8", "replace")
        out += chunk
    return out.decode("utf-8", "replace")


def linkmap():
    """The r_debug list: each object's load bias and name."""
    inferior = _inferior()
    try:
        r_debug = _r_debug(inferior)
        node = _word(inferior, r_debug + 8)
        rows = []
        while node and len(rows) < 100000:
            name = _string(inferior, _word(inferior, node + 8)) or "(the agent)"
            rows.append(["0x%x" % _word(inferior, node), name])
            node = _word(inferior, node + 24)
        return "from r_debug:\n" + fmt.table(rows, ["BASE", "PATH"])
    except (gdb.error, gdb.MemoryError) as e:
        rows = [[o.filename] for o in gdb.objfiles() if o.filename]
        return "from gdb's objfiles (r_debug: %s):\n" % e + fmt.table(rows, ["PATH"])


def events(last=0):
    """The agent's ring of recent events, oldest first."""
    _inferior()
    try:
        ring = gdb.parse_and_eval("jdryad_activity_ring")
        total, size = int(ring["next"]), int(ring["size"])
    except gdb.error as e:
        raise gdb.GdbError("no jdryad_activity_ring in the inferior (%s)" % e)
    first = max(0, total - size)
    if last:
        first = max(first, total - last)
    es = []
    for i in range(first, total):
        ev = ring["ev"][i % size]
        request = int(ev["request"].cast(gdb.lookup_type("unsigned long")))
        count = int(ev["count"])
        caller = int(ev["caller"])
        es.append({"seq": int(ev["seq"]), "state": STATES.get(int(ev["state"]), str(int(ev["state"]))),
                   "cause": CAUSES.get(int(ev["cause"]), str(int(ev["cause"]))),
                   "request": ev["request"].string() if request else None, "flags": int(ev["flags"]),
                   "call_site": {"address": "0x%x" % caller} if caller else None,
                   "objects": [ev["objects"][k].string() for k in range(min(count, 1000))]})
    return "from jdryad_activity_ring (%d of %d events):\n" % (len(es), total) + fmt.events(es)
