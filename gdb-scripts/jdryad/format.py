"""Columns and addresses, in the layout of `jdryad show` (org.jdryad.debug.HistoryView)."""
import gdb

_FLAGS = ((0x4, "RTLD_NOLOAD"), (0x8, "RTLD_DEEPBIND"), (0x100, "RTLD_GLOBAL"), (0x1000, "RTLD_NODELETE"))


def table(rows, header=None):
    """Left-aligned columns two spaces apart; the last column is not padded."""
    rows = ([header] if header else []) + [[str(c) for c in r] for r in rows]
    if not rows:
        return ""
    width = [0] * max(len(r) for r in rows)
    for r in rows:
        for i, c in enumerate(r):
            width[i] = max(width[i], len(c))
    lines = []
    for r in rows:
        cells = [c.ljust(width[i]) if i < len(r) - 1 else c for i, c in enumerate(r)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def short_name(path):
    return "" if path is None else path.rsplit("/", 1)[-1]


def address(text):
    """`0x... <sym+off>` where gdb knows the symbol, else the address as given."""
    if text is None:
        return ""
    try:
        value = int(text, 16) if isinstance(text, str) else int(text)
        return gdb.format_address(value)
    except (ValueError, gdb.error, RuntimeError, AttributeError):
        return str(text)


def call_site(site):
    if not site:
        return ""
    shown = address(site.get("address"))
    if "<" not in shown and site.get("text"):
        shown += " (%s)" % site["text"]
    return shown


def dlopen_flags(flags):
    mode = flags & 3
    words = ["RTLD_NOW" if mode == 2 else "RTLD_LAZY" if mode == 1 else "0"]
    words += [name for bit, name in _FLAGS if flags & bit]
    return "|".join(words)


def symbol(b):
    return b["symbol"] + ("@" + b["version"] if b.get("version") else "")


def linkmap(objects, symbols=None):
    """The link map's table; `symbols` maps a path to what gdb has read of it (SYMS column)."""
    rows = []
    for o in objects:
        row = [o["base"], "%s-%s" % (o["start"], o["end"]),
               ("host" if o.get("host") else "jdryad") + (" lazy" if o.get("lazy") else " now"),
               o.get("found_by") or "-", _loaded_by(o),
               "%.1f ms" % (o["time_ns"] / 1e6) if o.get("cause") and o.get("time_ns") is not None else "-",
               str(o.get("namespace", 0)), _tls(o.get("tls"))]
        if symbols is not None:
            row.append(symbols.get(o["path"], "-"))
        row.append(_path_and_soname(o["path"], o.get("soname")))
        rows.append(row)
    header = ["BASE", "RANGE", "KIND", "FOUND", "LOADED BY", "WHEN", "NS", "TLS"]
    return table(rows, header + (["SYMS"] if symbols is not None else []) + ["PATH"])


def _loaded_by(o):
    by, dlopened = o.get("loaded_by"), o.get("cause") == "dlopen"
    if not by:
        return "dlopen" if dlopened else "-"
    return ("dlopen by " if dlopened else "needed by ") + short_name(by)


def _tls(tls):
    if not tls or not tls.get("module"):
        return "-"
    offset = tls.get("offset")
    module = tls["module"]
    # jdryad numbers its own modules from 0x4a440000 (apart from glibc's): shown in hex
    shown = "%#x" % module if module > 0xffff else "%d" % module
    return "mod %s %s" % (shown, "dynamic" if offset is None else "tp-%#x" % offset)


def _path_and_soname(path, soname):
    if not soname or path == soname or path.endswith("/" + soname):
        return path
    return "%s [%s]" % (path, soname)


def gdb_symbols():
    """What gdb has read of each shared object (`info sharedlibrary`): debug, symbols or no."""
    out = {}
    try:
        text = gdb.execute("info sharedlibrary", to_string=True)
    except gdb.error:
        return out
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4 or not parts[0].startswith("0x"):
            continue
        if parts[2] == "Yes":
            out[parts[-1]] = "symbols" if parts[3] == "(*)" else "debug"
        elif parts[2] == "No":
            out[parts[-1]] = "no"
    return out


def bindings(bs):
    if not bs:
        return "no bindings match\n"
    rows = [["#%d" % b["seq"], b["kind"], short_name(b["referrer"]), "->", symbol(b), "->",
             short_name(b["definer"]) if b.get("definer") else "(undefined)", "at " + address(b.get("address")),
             "from " + call_site(b["call_site"]) if b.get("call_site") else ""] for b in bs]
    return table(rows, ["SEQ", "KIND", "REFERRER", "", "SYMBOL", "", "DEFINER", "ADDRESS", "CALL SITE"])


def events(es):
    if not es:
        return "no events\n"
    rows = []
    for e in es:
        request = '"%s", %s' % (e["request"], dlopen_flags(e.get("flags", 0))) if e.get("request") else ""
        rows.append(["#%d" % e["seq"], e["state"], e["cause"], request, call_site(e.get("call_site")),
                     " ".join(short_name(o) for o in e.get("objects", []))])
    return table(rows, ["SEQ", "STATE", "CAUSE", "REQUEST", "CALL SITE", "OBJECTS"])


def why(name, bs):
    if not bs:
        return "no binding of %s matches\n" % name
    out = []
    for b in bs:
        head = "#%d %s: %s -> %s" % (b["seq"], b["kind"], b["referrer"], symbol(b))
        if b.get("relocation"):
            head += " (%s)" % b["relocation"]
        if b.get("call_site"):
            head += ", from " + call_site(b["call_site"])
        out.append(head + "\n")
        passed = {c["object"]: c for c in b.get("passed_over", [])}
        later = list(b.get("passed_over", []))
        rows = []
        for n, s in enumerate(b.get("searched", []), 1):
            c = passed.get(s)
            if c is not None:
                later.remove(c)
                verdict = "passed over: " + str(c.get("reason"))
            elif s == b.get("definer"):
                verdict = "winner: %s at %s" % (b["symbol"], address(b.get("address")))
            else:
                verdict = "no definition"
            rows.append(["  %d." % n, s, verdict])
        rows += [["  -", c["object"], "passed over: " + str(c.get("reason"))] for c in later]
        out.append(table(rows))
        out.append("  winner: %s\n" % (b["definer"] or "none (undefined weak: 0)"))
    return "".join(out)


def stats(s):
    rows = [["program", s.get("program")], ["pid", s.get("pid")], ["objects", s.get("objects")],
            ["bindings", s.get("bindings")]]
    rows += [["  " + k, v] for k, v in sorted((s.get("by_kind") or {}).items())]
    rows += [["events", s.get("events")], ["uptime", "%.3f s" % (s.get("uptime_ns", 0) / 1e9)]]
    link = s.get("link")
    if link:
        rows += [["relocations", link.get("relocations")]]
        rows += [["  " + k, v] for k, v in (link.get("by_type") or {}).items()]
        rows += [["symbol lookups", "%s (from an object's cache: %s; objects probed: %s)"
                  % (link.get("lookups"), link.get("cached_lookups"), link.get("objects_probed"))],
                 ["lazy slots", "%s (bound since: %s)" % (link.get("lazy_slots"), link.get("lazy_bound"))]]
        rows += [["time " + k, "%.2f ms" % (v / 1e6)] for k, v in (link.get("phases_ns") or {}).items()]
    return table(rows)
