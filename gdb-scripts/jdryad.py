# Loads jdryad's gdb commands (`jdryad linkmap`, `jdryad bindings`, ...): `jdryad run --gdb` passes
# this file to gdb with -x; by hand: (gdb) source /path/to/gdb-scripts/jdryad.py
import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
if _here not in sys.path:
    sys.path.insert(0, _here)

import jdryad  # noqa: E402  (the package beside this file)

jdryad.register()

# `gdb -c CORE -x jdryad.py`: a jdryad process's core names its agent; load it (postmortem.py).
from jdryad import postmortem  # noqa: E402

postmortem.load_agent_for_core()
