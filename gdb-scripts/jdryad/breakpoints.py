"""`jdryad break-bind SYMBOL` and `jdryad break-load NAME`: breakpoints on the agent's hooks
(hooks.py) that stop only for the binding of SYMBOL or the loading of an object named NAME.

A stop says in one line what happened, then selects the program's frame that made the call
(the caller of the PLT entry, of dlsym, of dlopen), so that `frame`, `list` and `info locals`
are the program's and `bt` shows the way from there into the agent. The stop() methods only
decide; what a stop prints and selects is done once gdb has stopped (a stop event), since
gdb reselects the innermost frame when it stops.
"""
import collections
import fnmatch

import gdb

from . import completion, hooks
from . import format as fmt

_GLOB = set("*?[")

# What a stop says (line), which frame it selects (the call's return address, 0: none) and the
# convenience variable it sets to the hook's struct.
Report = collections.namedtuple("Report", "line caller variable value")
_pending = {}  # breakpoint number -> its Report, from stop() to the stop event


def _matches(pattern, *names):
    """An exact name, or a glob (*, ?, [...]) when the pattern has glob characters."""
    if _GLOB.isdisjoint(pattern):
        return pattern in names
    return any(n is not None and fnmatch.fnmatchcase(n, pattern) for n in names)


def _caller_frame(caller):
    """The frame that made the call returning to `caller` (None when it is not on the stack)."""
    frame, depth = gdb.newest_frame(), 0
    while frame is not None and depth < 256:
        if frame.pc() == caller and depth > 0:
            return frame
        frame, depth = frame.older(), depth + 1
    return None


def _on_stop(event):
    """Prints the line of each of our breakpoints that stopped, and selects the caller's frame."""
    if not isinstance(event, gdb.BreakpointEvent):
        return
    caller = None
    for bp in event.breakpoints:
        report = _pending.pop(bp.number, None)
        if report is not None:
            gdb.write(report.line + "\n")
            caller = caller or report.caller
    if not caller:
        return
    try:
        frame = _caller_frame(caller)
        if frame is not None:
            frame.select()
            gdb.execute("frame", to_string=False)
    except Exception as e:  # noqa: BLE001  a stop event must not end in a traceback
        gdb.write("jdryad: the caller's frame cannot be selected (%s)\n" % e)


class _HookBreakpoint(gdb.Breakpoint):
    """A breakpoint on one of the agent's hooks whose stop() asks wanted() about the hook's struct
    (a Report to stop, None to go on)."""

    def __init__(self, hook, label):
        super().__init__(hook, gdb.BP_BREAKPOINT, internal=False)
        self.label = label

    def stop(self):
        try:
            report = self.wanted()
        except Exception as e:  # noqa: BLE001  stop() must not end in a traceback
            gdb.write("jdryad %s: cannot read the hook's argument (%s); not stopping\n" % (self.label, e))
            return False
        if report is None:
            return False
        _pending[self.number] = report
        gdb.set_convenience_variable(report.variable, report.value)
        return True


class BindBreakpoint(_HookBreakpoint):
    """Stops in jdryad_dl_bind when the binding's symbol is SYMBOL (or NAME@VERSION, or a glob)."""

    def __init__(self, pattern):
        self.pattern = pattern
        super().__init__(hooks.BINDING_HOOK, "break-bind " + pattern)

    def wanted(self):
        value = hooks.argument(hooks.BINDING_ARG, "struct jdryad_binding")
        d = hooks.binding(value)
        if d is None or d["symbol"] is None:
            return None
        versioned = d["symbol"] + ("@" + d["version"] if d["version"] else "")
        if not _matches(self.pattern, d["symbol"], versioned):
            return None
        line = "jdryad break-bind: %s (answered by %s)" % (hooks.describe_binding(d), hooks.source(d))
        return Report(line, d["caller"], "jdryad_binding", value)


class LoadBreakpoint(_HookBreakpoint):
    """Stops in jdryad_dl_activity once an object whose path matches NAME has been added.

    It stops at the event that follows the add (state consistent, cause start-up or dlopen):
    then gdb has read the new link map, so the object's symbols and breakpoints are there."""

    def __init__(self, pattern):
        self.pattern = pattern
        super().__init__(hooks.ACTIVITY_HOOK, "break-load " + pattern)

    def _hit(self, path):
        base = fmt.short_name(path)
        if _GLOB.isdisjoint(self.pattern):
            return self.pattern in path
        return _matches(self.pattern, path, base)

    def wanted(self):
        value = hooks.argument(hooks.ACTIVITY_ARG, "struct jdryad_activity")
        e = hooks.activity(value)
        if e is None or e["state"] != hooks.STATE_CONSISTENT or e["cause"] not in (hooks.CAUSE_STARTUP,
                                                                                   hooks.CAUSE_DLOPEN):
            return None
        hit = [p for p in e["objects"] if p and self._hit(p)]
        if not hit:
            return None
        line = "jdryad break-load: %s added (%s)" % (" ".join(hit), hooks.describe_activity(e))
        return Report(line, e["caller"], "jdryad_event", value)


class BreakBind(gdb.Command):
    """Stop when SYMBOL is bound: jdryad break-bind SYMBOL

Stops at jdryad_dl_bind (the agent's binding hook) when a lazily bound function named SYMBOL is
first called, or dlsym/dlvsym returns SYMBOL's address, and selects the program's frame that made
the call. SYMBOL is a name (lib_add), NAME@VERSION (puts@GLIBC_2.2.5) or a glob (lib_*).
`print $jdryad_binding` shows the binding (so does `print *b` in frame 0); `delete` removes the
breakpoint like any other."""

    def __init__(self):
        super().__init__("jdryad break-bind", gdb.COMMAND_BREAKPOINTS)

    def complete(self, text, word):
        # gdb's symbols: the point is a symbol not bound yet, which the server has no binding of
        return completion.complete(text, word, {}, {None: lambda: None})

    def invoke(self, arg, from_tty):
        argv = gdb.string_to_argv(arg)
        if len(argv) != 1 or argv[0].startswith("-"):
            raise gdb.GdbError("usage: jdryad break-bind SYMBOL")
        bp = BindBreakpoint(argv[0])
        gdb.write("Breakpoint %d stops when %s is bound (lazily or by dlsym)\n" % (bp.number, argv[0]))


class BreakLoad(gdb.Command):
    """Stop when an object whose name matches NAME is added: jdryad break-load NAME

Stops at jdryad_dl_activity (the agent's link-map hook) once an object whose path contains NAME
(or whose path or file name matches NAME as a glob: libplugin*.so) has been added, at start-up
or by dlopen, and selects the program's frame that called dlopen. `print $jdryad_event` shows
the event (so does `print *event` in frame 0); `delete` removes the breakpoint like any other."""

    def __init__(self):
        super().__init__("jdryad break-load", gdb.COMMAND_BREAKPOINTS)

    def complete(self, text, word):
        return completion.complete(text, word, {}, {None: completion.object_names})

    def invoke(self, arg, from_tty):
        argv = gdb.string_to_argv(arg)
        if len(argv) != 1 or argv[0].startswith("-") or not argv[0]:
            raise gdb.GdbError("usage: jdryad break-load NAME")
        bp = LoadBreakpoint(argv[0])
        gdb.write("Breakpoint %d stops when an object matching %s is added\n" % (bp.number, argv[0]))


def register():
    gdb.events.stop.connect(_on_stop)
    BreakBind()
    BreakLoad()
