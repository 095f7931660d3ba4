"""Completion of the `jdryad` commands' arguments: options, symbol names (the server's bindings,
else gdb's own symbols) and object names (the server's link map, else gdb's objfiles).

Completion runs while the user types: it never raises, and a server that cannot be reached
only means fewer candidates.
"""
import gdb

from . import client
from . import format as fmt


def server_names(op, key):
    """The distinct values of `key` in the server's answer to `op`; None when it cannot be asked."""
    try:
        result = client.query(op)
    except (client.Unreachable, client.QueryError):
        return None
    return sorted({r[key] for r in result if isinstance(r, dict) and isinstance(r.get(key), str)})


def object_names():
    """Objects of the link map: each path and file name, from the server, else gdb's own list."""
    paths = server_names("linkmap", "path")
    if paths is None:
        paths = [o.filename for o in gdb.objfiles() if o.filename]
    return sorted(set(paths) | {fmt.short_name(p) for p in paths})


def symbol_names():
    """Symbols the server has bindings of; None when there are none to offer."""
    return server_names("bindings", "symbol") or None


def complete(text, word, options, values):
    """Completions of the word being typed: an option, an option's value (values[option]() lists
    them), else a symbol name. gdb splits words at characters such as '/', '.' and '-', so the
    candidates are matched against the whole argument typed so far and cut back to `word`."""
    try:
        argv = text.split()
        current = "" if not argv or text[-1:].isspace() else argv[-1]
        before = argv[:-1] if current else argv
        if before and before[-1] in options and options[before[-1]] is not bool:
            candidates = values.get(before[-1], lambda: [])()
        elif current.startswith("-"):
            candidates = sorted(options)
        else:
            candidates = values.get(None, lambda: None)()
            if candidates is None:
                return gdb.COMPLETE_SYMBOL
        cut = len(current) - len(word or "")
        return [c[cut:] for c in candidates if c.startswith(current) and cut >= 0]
    except Exception:  # noqa: BLE001  completion must never fail out loud
        return []
