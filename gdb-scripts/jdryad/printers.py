"""Pretty printers for the agent's hook structs: `print *event` in jdryad_dl_activity and
`print *b` in jdryad_dl_bind read as one line each, then the details.

They match the types by name (struct jdryad_activity, struct jdryad_binding: the agent's DWARF,
see hooks.py), so they are registered for every objfile; a struct of another version prints
as gdb prints it (`print/r` prints any of them raw).
"""
import gdb
import gdb.printing

from . import hooks


def _code(address):
    """A gdb value gdb prints as `0x... <sym+off>`."""
    return gdb.Value(address).cast(gdb.lookup_type("void").pointer())


class ActivityPrinter:
    """struct jdryad_activity: `activity #3: add, dlopen("libplugin.so", RTLD_NOW) from 0x... <main+91>`."""

    def __init__(self, value):
        self.value = value
        self.event = hooks.activity(value)

    def to_string(self):
        return hooks.describe_activity(self.event)

    def children(self):
        e = self.event
        yield "pid", e["pid"]
        yield "tid", e["tid"]
        yield "lmid", e["lmid"]
        for i, path in enumerate(e["objects"]):
            yield "objects[%d]" % i, path


class BindingPrinter:
    """struct jdryad_binding: `lazy lib_add: gdb-main -> libgdbadd.so at 0x... <lib_add>, from 0x... <main+15>`."""

    def __init__(self, value):
        self.value = value
        self.binding = hooks.binding(value)

    def to_string(self):
        return hooks.describe_binding(self.binding)

    def children(self):
        d = self.binding
        yield "referrer", hooks.referrer(d) or "?"
        yield "definer", hooks.object_at(d["target"]) or "?"
        yield "target", _code(d["target"])
        if d["kind"] == hooks.KIND_LAZY:
            yield "slot", _code(d["slot"])
            yield "object", d["object"]
            yield "index", d["index"]
        else:
            yield "handle", _code(d["object"])
        yield "source", hooks.source(d)
        yield "pid", d["pid"]
        yield "tid", d["tid"]


class _Printers(gdb.printing.PrettyPrinter):
    """jdryad's printers, by struct tag, for the versions this script knows."""

    def __init__(self):
        super().__init__("jdryad")

    def __call__(self, value):
        try:
            t = value.type.strip_typedefs()
            if t.code != gdb.TYPE_CODE_STRUCT:
                return None
            if t.tag == "jdryad_activity" and int(value["version"]) == hooks.ACTIVITY_VERSION:
                return ActivityPrinter(value)
            if t.tag == "jdryad_binding" and int(value["version"]) == hooks.BINDING_VERSION:
                return BindingPrinter(value)
        except (gdb.error, gdb.MemoryError):
            return None  # unreadable: gdb prints it its own way (and says why)
        return None


def register():
    gdb.printing.register_pretty_printer(None, _Printers(), replace=True)
