"""The agent's two hooks and what they are handed (native/jdryad_activity.h, jdryad_binding.h).

    void jdryad_dl_activity(const struct jdryad_activity *event);  /* every link-map event */
    void jdryad_dl_bind(const struct jdryad_binding *b);           /* every run-time binding */

The structs are read through the agent's DWARF types (its Makefile always builds with -g) and
turned into one-line descriptions here, for the pretty printers and the breakpoints alike. The
objects of a binding are not in its struct: they are the objects holding its addresses, which
gdb knows from the r_debug list.
"""
import gdb

from . import fallback
from . import format as fmt

ACTIVITY_HOOK, ACTIVITY_ARG, ACTIVITY_VERSION = "jdryad_dl_activity", "event", 2
BINDING_HOOK, BINDING_ARG, BINDING_VERSION = "jdryad_dl_bind", "b", 1

STATE_CONSISTENT, STATE_ADD = 0, 1
CAUSE_STARTUP, CAUSE_DLOPEN = 1, 2
KIND_LAZY, KIND_DLSYM = 1, 2
_KINDS = {KIND_LAZY: "lazy", KIND_DLSYM: "dlsym"}
_SOURCES = {1: "the agent's prepared table", 2: "jdryad, asked at the call", 3: "glibc"}


def argument(name, type_name):
    """The hook's argument in the newest frame (stopped at the hook's entry): `name`, else %rdi."""
    frame = gdb.newest_frame()
    try:
        value = frame.read_var(name)
        if not value.is_optimized_out:
            return value.dereference()
    except (gdb.error, ValueError):
        pass
    pointer = gdb.lookup_type(type_name).pointer()
    return frame.read_register("rdi").cast(pointer).dereference()


def _int(value):
    return int(value.cast(gdb.lookup_type("unsigned long")))


def _string(pointer):
    """A char * as text; None for a null pointer."""
    if _int(pointer) == 0:
        return None
    try:
        return pointer.string("utf-8", "replace")
    except gdb.MemoryError:
        return "<unreadable at 0x%x>" % _int(pointer)


def object_at(address):
    """The path of the object holding `address`, as gdb's link map has it; None if none does."""
    if not address:
        return None
    name = gdb.solib_name(address)
    if name:
        return name
    try:  # not a shared object: gdb's main file (the agent), if its symbols cover the address
        symtab = gdb.find_pc_line(address).symtab
        return symtab.objfile.filename if symtab else None
    except (gdb.error, RuntimeError):
        return None


def activity(event):
    """struct jdryad_activity as a dict (the fields of `jdryad events`), or None for another version."""
    if int(event["version"]) != ACTIVITY_VERSION:
        return None
    count = min(_int(event["count"]), 100000)
    objects = event["objects"]
    return {"seq": _int(event["seq"]), "state": int(event["state"]), "cause": int(event["cause"]),
            "flags": int(event["flags"]), "request": _string(event["request"]), "caller": _int(event["caller"]),
            "pid": int(event["pid"]), "tid": int(event["tid"]), "lmid": int(event["lmid"]),
            "objects": [_string(objects[i]) for i in range(count)] if _int(objects) else []}


def binding(b):
    """struct jdryad_binding as a dict, or None for another version."""
    if int(b["version"]) != BINDING_VERSION:
        return None
    return {"kind": int(b["kind"]), "source": int(b["source"]), "symbol": _string(b["symbol"]),
            "version": _string(b["symbol_version"]), "target": _int(b["target"]), "slot": _int(b["slot"]),
            "caller": _int(b["caller"]), "object": _int(b["object"]), "index": _int(b["index"]),
            "pid": int(b["pid"]), "tid": int(b["tid"])}


def referrer(d):
    """The object that asked: the one holding the GOT slot (lazy), else the caller."""
    return object_at(d["slot"] or d["caller"])


def describe_activity(e):
    """`activity #3: add, dlopen("libplugin.so", RTLD_NOW) from 0x... <main+91>` (as --debug=activity)."""
    state = fallback.STATES.get(e["state"], str(e["state"]))
    if e["cause"] == CAUSE_DLOPEN:
        cause = 'dlopen("%s", %s)' % (e["request"], fmt.dlopen_flags(e["flags"]))
    elif e["cause"] == 3:
        cause = "dlclose"
    elif e["cause"] == 4:
        cause = 'failed dlopen("%s") undone' % e["request"]
    else:
        cause = "start-up"
    text = "activity #%d: %s, %s" % (e["seq"], state, cause)
    return text + (" from " + fmt.address(e["caller"]) if e["caller"] else "")


def describe_binding(d):
    """`lazy lib_add: gdb-main -> libgdbadd.so at 0x... <lib_add>, from 0x... <main+15>`."""
    name = (d["symbol"] or "?") + ("@" + d["version"] if d["version"] else "")
    definer = object_at(d["target"])
    return "%s %s: %s -> %s at %s, from %s" % (
        _KINDS.get(d["kind"], "kind %d" % d["kind"]), name, fmt.short_name(referrer(d)) or "?",
        fmt.short_name(definer) or "?", fmt.address(d["target"]), fmt.address(d["caller"]))


def source(d):
    return _SOURCES.get(d["source"], str(d["source"]))
