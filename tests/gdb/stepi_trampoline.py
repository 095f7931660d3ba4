# Drives gdb through a first (lazily bound) call instruction by instruction: every stop inside
# jdryad's trampoline must unwind to the caller (CFI), and `finish` out of the resolver's C part
# must come back into the trampoline. Prints one summary line for the test to check.
import gdb

gdb.execute("break gdb_main.c:4")
gdb.execute("run")
in_trampoline = 0
finished = 0
bad = []
for step in range(2000):
    gdb.execute("stepi", to_string=True)
    frame = gdb.selected_frame()
    name = frame.name()
    if name == "lib_add":
        break
    if name in ("jdryad_lazy_resolve", "_dl_fixup"):
        in_trampoline += 1
        older = frame.older()
        if name == "_dl_fixup" and older is not None and older.name() == "jdryad_lazy_resolve":
            older = older.older()  # the resolver's C part is called by the trampoline
        if older is None or older.name() != "main":
            bad.append("%s at %#x: caller %s" % (name, frame.pc(), older and older.name()))
        if name == "_dl_fixup":
            gdb.execute("finish", to_string=True)
            finished += 1
            if gdb.selected_frame().name() != "jdryad_lazy_resolve":
                bad.append("finish from _dl_fixup landed in %s" % gdb.selected_frame().name())
print("JDRYAD-STEPI in_trampoline=%d finished=%d arrived=%s bad=%s"
      % (in_trampoline, finished, gdb.selected_frame().name(), bad))
