"""jdryad's gdb commands: the link map, bindings and link-map events of a program jdryad loaded.

They ask jdryad's query server (the JVM that linked the program, which answers while gdb holds
the program stopped) and print its answers in the columns `jdryad show` prints. Without the
server they say so in one line and show what the inferior's memory alone tells.

Modules: client (the socket and its JSON lines), format (columns and addresses), fallback (the
r_debug list and the agent's event ring), commands (one gdb.Command per command).
"""

_registered = False


def register():
    """Defines the `jdryad` prefix command and its subcommands (once per gdb)."""
    global _registered
    if not _registered:
        from . import commands
        commands.register()
        from . import slots; slots.register()  # noqa: E702 (jdryad got, jdryad plt)
        _registered = True
