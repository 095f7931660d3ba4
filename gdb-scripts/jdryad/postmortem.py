"""Core files of jdryad processes: `gdb -c CORE -x gdb-scripts/jdryad.py` needs no agent path.

A jdryad process's executable is the agent (its path is in the core's file notes, a file in
jdryad's cache such as ~/.cache/jdryad/HASH/jdryad-agent-tls8192). Without it gdb finds neither
r_debug nor any symbol. When a core is loaded with no executable, this loads the agent the core
names (when that file still exists) and reads the core again, so that the link map, the
program's symbols and the `jdryad` commands' fallbacks work.
"""
import os
import re

import gdb

from . import client

_AGENT = re.compile(r"\s(/\S*/jdryad-agent[^/\s]*)\s*$")
_CORE = re.compile(r"Local core dump file:\s*`(.+)', file type")


def _agent_in_core():
    try:
        text = gdb.execute("info proc mappings", to_string=True)
    except gdb.error:
        return None
    for line in text.splitlines():
        m = _AGENT.search(line)
        if m:
            return m.group(1)
    return None


def load_agent_for_core():
    """Loads the agent a core file names, when gdb has a core and no executable; says so in one line."""
    try:
        if not client.is_core() or gdb.current_progspace().filename:
            return
        agent = _agent_in_core()
        if agent is None:
            return  # not a jdryad process's core
        core = _CORE.search(gdb.execute("info target", to_string=True))
        if not os.path.isfile(agent) or core is None:
            gdb.write("jdryad: this core is a jdryad process's; load its agent to see more: gdb %s CORE\n" % agent)
            return
        gdb.execute("file %s" % gdb_quote(agent), to_string=True)
        gdb.execute("core-file %s" % gdb_quote(core.group(1)), to_string=True)
        gdb.write("jdryad: a jdryad process's core file: loaded its agent %s\n" % agent)
    except gdb.error as e:
        gdb.write("jdryad: could not load the agent for this core file (%s)\n" % e)


def gdb_quote(path):
    """A file name for gdb's command line (file, core-file)."""
    return '"%s"' % path.replace("\\", "\\\\").replace('"', '\\"') if re.search(r"[\s\"'\\]", path) else path
