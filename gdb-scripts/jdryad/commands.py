"""The `jdryad` commands: one gdb.Command per command, arguments through gdb.string_to_argv."""
import gdb

from . import breakpoints, client, completion, fallback, printers
from . import format as fmt


def _parse(argv, positionals, options):
    """argv into (positionals, {option: value}); options maps '--name' to bool or int or str."""
    args, values, i = [], {}, 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("--"):
            kind = options.get(a)
            if kind is None:
                raise gdb.GdbError("unknown option %s (try: help jdryad)" % a)
            if kind is bool:
                values[a] = True
            else:
                i += 1
                if i == len(argv):
                    raise gdb.GdbError("%s needs a value" % a)
                try:
                    values[a] = kind(argv[i])
                except ValueError:
                    raise gdb.GdbError("%s needs a number, not %s" % (a, argv[i]))
                if kind is int and values[a] < 0:
                    raise gdb.GdbError("%s must not be negative" % a)
        else:
            args.append(a)
        i += 1
    if len(args) > positionals:
        raise gdb.GdbError("too many arguments: %s" % " ".join(args[positionals:]))
    return args, values


def _ask(op, offline=None, **filters):
    """The server's result, or None after saying (in one line) why not and showing `offline`'s."""
    try:
        return client.query(op, **filters)
    except client.QueryError as e:
        raise gdb.GdbError("jdryad: %s" % e)
    except client.Unreachable as e:
        gdb.write("jdryad: the query server cannot be reached (%s)%s\n"
                  % (e, "; from the inferior's memory:" if offline else ""))
        if offline:
            gdb.write(offline())
        return None


class Jdryad(gdb.Command):
    """jdryad's view of the program: link map, bindings, link-map events, why a symbol bound where it did.

Subcommands: linkmap, bindings, events, why, got, plt, stats, break-bind, break-load. They ask
jdryad's query server (the JVM of `jdryad gdb` or `jdryad run`), which answers while the program
is stopped; without it they show what the inferior's memory tells."""

    def __init__(self):
        super().__init__("jdryad", gdb.COMMAND_DATA, gdb.COMPLETE_COMMAND, True)


class Linkmap(gdb.Command):
    """Every object of the link map: jdryad linkmap

Base, address range, host (glibc's) or jdryad's, bound lazily or now, how the search found it
(executable, rpath, LD_LIBRARY_PATH, runpath, ld.so.cache, default path, direct path, preload),
the object that needed or dlopened it and when (since the run began), namespace, TLS module
and offset below the thread pointer, what gdb has read of it (debug: symbols and debug info;
symbols: no debug info; no), path [soname]."""

    def __init__(self):
        super().__init__("jdryad linkmap", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        _parse(gdb.string_to_argv(arg), 0, {})
        result = _ask("linkmap", fallback.linkmap)
        if result is not None:
            gdb.write(fmt.linkmap(result, fmt.gdb_symbols()))


class Bindings(gdb.Command):
    """Bindings jdryad made: jdryad bindings [SYMBOL] [--object OBJ] [--lazy] [--pending] [--last N]

SYMBOL: only its bindings. --object OBJ: only those with OBJ (path or file name) as referrer or
definer. --lazy: only first calls. --last N: only the last N. --pending: instead, the PLT slots
of jdryad's lazily bound objects not bound yet (their first call is still to come)."""

    def __init__(self):
        super().__init__("jdryad bindings", gdb.COMMAND_DATA)

    OPTIONS = {"--object": str, "--lazy": bool, "--pending": bool, "--last": int}

    def complete(self, text, word):
        return completion.complete(text, word, self.OPTIONS,
                                   {None: completion.symbol_names, "--object": completion.object_names})

    def invoke(self, arg, from_tty):
        args, o = _parse(gdb.string_to_argv(arg), 1, self.OPTIONS)
        if o.get("--pending"):
            if o.get("--lazy"):
                raise gdb.GdbError("--pending lists slots not bound yet: it does not go with --lazy")
            _pending(args[0] if args else None, o.get("--object"), o.get("--last"))
            return
        result = _ask("bindings", symbol=args[0] if args else None, object=o.get("--object"),
                      lazy=o.get("--lazy", False), last=o.get("--last"))
        if result is not None:
            gdb.write(fmt.bindings(result))


def _pending(symbol, obj, last):
    """The unbound PLT slots of every jdryad object bound lazily (or of OBJ), from the slots op."""
    objects = _ask("linkmap")
    if objects is None:
        return
    rows = []
    for o in objects:
        if o.get("host") or not o.get("lazy"):
            continue
        if obj and obj not in (o.get("path"), fmt.short_name(o.get("path")), o.get("soname")):
            continue
        table = _ask("slots", object=o["path"], kind="plt")
        for s in (table or {}).get("slots", []):
            if s.get("state") == "unbound" and (symbol is None or s.get("symbol") == symbol):
                rows.append([fmt.short_name(o["path"]), fmt.address(s.get("slot")),
                             s["symbol"] + ("@" + s["version"] if s.get("version") else ""),
                             fmt.address(s.get("current"))])
    if last is not None:
        rows = rows[-last:] if last else []
    if not rows:
        gdb.write("no PLT slot is waiting for its first call\n")
        return
    gdb.write(fmt.table(rows, ["OBJECT", "SLOT", "SYMBOL", "HOLDS NOW"]))
    gdb.write("%d slots not bound yet\n" % len(rows))


class Events(gdb.Command):
    """Link-map events (add, delete, consistent) and their causes: jdryad events [--last N]"""

    def __init__(self):
        super().__init__("jdryad events", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        _, o = _parse(gdb.string_to_argv(arg), 0, {"--last": int})
        last = o.get("--last")
        result = _ask("events", lambda: fallback.events(last or 0), last=last)
        if result is not None:
            gdb.write(fmt.events(result))


class Why(gdb.Command):
    """Why SYMBOL bound where it did: jdryad why SYMBOL [--from OBJ]

For each binding of SYMBOL (made for references from OBJ): the objects searched in order, each
definition passed over and why, and the winner."""

    def __init__(self):
        super().__init__("jdryad why", gdb.COMMAND_DATA)

    OPTIONS = {"--from": str}

    def complete(self, text, word):
        return completion.complete(text, word, self.OPTIONS,
                                   {None: completion.symbol_names, "--from": completion.object_names})

    def invoke(self, arg, from_tty):
        args, o = _parse(gdb.string_to_argv(arg), 1, self.OPTIONS)
        if not args:
            raise gdb.GdbError("usage: jdryad why SYMBOL [--from OBJ]")
        result = _ask("why", symbol=args[0], **{"from": o.get("--from")})
        if result is not None:
            gdb.write(fmt.why(args[0], result))


class Stats(gdb.Command):
    """Counts and times: jdryad stats

Objects, bindings by kind, events; relocations by type, symbol lookups, lazy slots and how many
are bound, and the time of each linking phase."""

    def __init__(self):
        super().__init__("jdryad stats", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        _parse(gdb.string_to_argv(arg), 0, {})
        result = _ask("stats")
        if result is not None:
            gdb.write(fmt.stats(result))


def register():
    for command in (Jdryad, Linkmap, Bindings, Events, Why, Stats):
        command()
    breakpoints.register()
    printers.register()
