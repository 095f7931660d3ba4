package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@code jdryad got} and {@code jdryad plt} on the slots fixture (tests/fixtures/slots), stopped
 * in slot_checkpoint: slot_called was bound lazily from main, slot_never was never called,
 * slot_victim's jump slot was overwritten by the program with its own function evil, and
 * slot_address's GLOB_DAT slot lies in the read-only RELRO GOT. With the server off, the same
 * slots from the inferior's memory, their values as gdb symbols.
 */
@Tag("gdb")
@Tag("run")
class GdbSlotsTest {
    private static final String HEX = "0x[0-9a-f]+";

    private static Result gdb(Map<String, String> extraEnv, String... commands) {
        List<String> all = new ArrayList<>(List.of("break slot_checkpoint", "run"));
        all.addAll(List.of(commands));
        return GdbBatch.batch(List.of(), extraEnv, FixtureCatalog.slotsProgram(), List.of(), all);
    }

    private static void expect(Result r, String regex, String what) {
        assertTrue(Pattern.compile(regex, Pattern.MULTILINE).matcher(r.stdout() + r.stderr()).find(),
                () -> what + "\n" + r.describe());
    }

    private static void absent(Result r, String regex, String what) {
        assertFalse(Pattern.compile(regex, Pattern.MULTILINE).matcher(r.stdout() + r.stderr()).find(),
                () -> what + "\n" + r.describe());
    }

    /** One row of the table: marker, slot <sym@got.plt>, relocation, symbol, holds, page, state. */
    private static String row(String marker, String symbol, String holds, String page, String state) {
        return "^" + marker + "\\s+" + HEX + " <" + symbol + "@got\\.plt>\\s+JUMP_SLOT\\s+" + symbol + "\\s+" + holds
                + "\\s+" + page + "\\s+" + state + "$";
    }

    @Test
    void theSlotsAsJdryadBoundThemAndAsTheyAreNow() {
        Result r = gdb(Map.of(), "jdryad plt gdb-slots", "jdryad got gdb-slots", "jdryad plt libc.so.6",
                "jdryad plt nosuchlib.so", "jdryad got", "jdryad plt \"unbalanced");
        String prog = Pattern.quote(FixtureCatalog.slotsProgram().toString());
        expect(r, "^Breakpoint 1, slot_checkpoint \\(x=0\\)", "the breakpoint did not hit");
        expect(r, "^slot_victim\\(5\\) after tampering = 1005$", "the fixture did not tamper with its slot");
        expect(r, "^PLT slots of " + prog + " \\(jdryad, bound lazily; base " + HEX + ", pid \\d+\\)$", "no PLT heading");
        expect(r, row("", "slot_called", HEX + " <slot_called> in libslots\\.so", "no RELRO rw-p",
                "bound lazily #\\d+ at [0-9.]+ ms by the call from " + HEX + " <main\\+\\d+>"),
                "slot_called is not shown bound lazily by its call from main");
        expect(r, row("", "slot_never", HEX + " <slot_never@plt\\+\\d+> in gdb-slots", "no RELRO rw-p",
                "unbound: not called yet"), "slot_never is not shown unbound, back into its PLT entry");
        expect(r, row("!!", "slot_victim", HEX + " <evil> in gdb-slots", "no RELRO rw-p",
                "TAMPERED: jdryad wrote " + HEX + " <slot_victim>; was bound lazily #\\d+ at [0-9.]+ ms by the call from "
                + HEX + " <main\\+\\d+>"), "slot_victim is not shown tampered, pointing at evil");
        expect(r, "^TAMPERED: " + HEX + " <slot_victim@got\\.plt> \\(slot_victim\\) holds " + HEX
                + " <evil> in gdb-slots, not what jdryad wrote \\(" + HEX + " <slot_victim>\\)$", "no TAMPERED summary line");
        absent(r, "^!!\\s+" + HEX + " <(slot_called|slot_never|slot_checkpoint|printf)@got", "an intact slot is marked");
        expect(r, "^\\s+" + HEX + "\\s+-\\s+GOT\\[2\\]\\s+" + HEX + " <jdryad_lazy_resolve>\\s+RELRO r--p\\s+"
                + "reserved: the lazy-binding trampoline$", "GOT[2] is not the trampoline in read-only RELRO");
        expect(r, "^\\d+ slots: .*\\d+ unbound; 1 TAMPERED$", "the PLT summary does not count one tampered slot");
        expect(r, "^GOT slots of " + prog + " ", "no GOT heading");
        expect(r, "^PT_GNU_RELRO " + HEX + "-" + HEX + ", read-only after relocation: " + HEX + "-" + HEX + "$",
                "no RELRO range");
        expect(r, "^\\s+" + HEX + "\\s+GLOB_DAT\\s+slot_address\\s+" + HEX + " <slot_address> in libslots\\.so\\s+"
                + "RELRO r--p\\s+bound at load #\\d+$", "slot_address's GLOB_DAT slot is not bound at load in read-only RELRO");
        expect(r, "^PLT slots of /\\S+/libc\\.so\\.6 \\(host object, relocated by glibc's loader;",
                "libc's slots are not shown as a host object's");
        expect(r, "^\\s+" + HEX + " <\\w+@got\\.plt>\\s+JUMP_SLOT\\s+\\S+\\s+" + HEX + " <[^>]+> in \\S+\\s+.*glibc's \\(host object\\)$",
                "libc's jump slots are not listed with their targets");
        expect(r, "^jdryad: no loaded object is named nosuchlib\\.so \\(jdryad linkmap lists them\\)$",
                "an unknown object is not one line");
        expect(r, "^usage: jdryad got OBJ ", "a missing argument is not one line");
        assertFalse((r.stdout() + r.stderr()).contains("Traceback"), r::describe);
        assertFalse((r.stdout() + r.stderr()).contains("cannot be reached"), r::describe);
    }

    @Test
    void withTheServerOffTheSlotsComeFromTheInferiorsMemory() {
        Result r = gdb(Map.of("JDRYAD_QUERY", "off"), "jdryad plt gdb-slots", "jdryad got gdb-slots",
                "jdryad plt nosuchlib.so", "kill", "jdryad plt gdb-slots");
        String prog = Pattern.quote(FixtureCatalog.slotsProgram().toString());
        expect(r, "^jdryad: the query server cannot be reached \\(.*\\); from the inferior's memory:$",
                "no one-line message for the unreachable server");
        expect(r, "^from r_debug and " + prog + "'s dynamic section \\(PLT slots; no record of what jdryad wrote\\):$",
                "the PLT slots do not come from r_debug and the dynamic section");
        expect(r, "^" + HEX + " <slot_called@got\\.plt>\\s+JUMP_SLOT\\s+slot_called\\s+rw-p\\s+" + HEX
                + " <slot_called> in libslots\\.so$", "slot_called's slot is not shown with its target as a gdb symbol");
        expect(r, "^" + HEX + " <slot_never@got\\.plt>\\s+JUMP_SLOT\\s+slot_never\\s+rw-p\\s+" + HEX
                + " <slot_never@plt\\+\\d+> in gdb-slots  \\(back into the PLT: unbound\\)$", "slot_never is not unbound");
        expect(r, "^" + HEX + " <slot_victim@got\\.plt>\\s+JUMP_SLOT\\s+slot_victim\\s+rw-p\\s+" + HEX + " <evil> in gdb-slots$",
                "slot_victim's slot does not show evil");
        expect(r, "^" + HEX + "\\s+GLOB_DAT\\s+slot_address\\s+r--p\\s+" + HEX + " <slot_address> in libslots\\.so$",
                "the GLOB_DAT slot is not read from memory");
        expect(r, "^jdryad: no object named nosuchlib\\.so in r_debug's list$", "an unknown object is not one line");
        expect(r, "^the program is not running \\(no process, no core file\\): the inferior's memory has nothing to show$",
                "a command after kill is not one line");
        assertFalse((r.stdout() + r.stderr()).contains("Traceback"), r::describe);
    }
}
