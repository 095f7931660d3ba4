package org.jdryad.run;

import org.jdryad.agent.CallbackReply;
import org.jdryad.link.LinkException;
import org.jdryad.link.LinkSession;

/**
 * Answers the program's lazy first calls (the agent's CB_LAZY): the link session resolves the
 * slot by glibc's rules and records the binding; this turns its answer into the agent's reply,
 * honouring LD_BIND_NOT (resolve, never patch), with the slot's symbol name and version for the
 * agent's binding hook, and a failure into glibc's fatal line.
 */
final class LazyBinder {
    private final LinkSession session;
    private final boolean bindNot;
    private final String program;
    /** LD_AUDIT's modules, whose la_symbind64 sees (and may redirect) every first call; null: none. */
    private volatile Auditing audit;

    LazyBinder(LinkSession session, boolean bindNot, String program) {
        this.session = session;
        this.bindNot = bindNot;
        this.program = program;
    }

    void setAudit(Auditing a) {
        this.audit = a;
    }

    /** The modules this binder's first calls go to, or null. */
    Auditing audit() {
        return audit;
    }

    CallbackReply bind(long object, long index, long caller, long tid, long pid) {
        try {
            LinkSession.LazyAnswer a = session.bindLazily(object, index, caller, tid, pid);
            String[] name = session.lazyObject(object).map(o -> PltNames.of(o, index)).orElse(new String[2]);
            Auditing au = audit;
            if (au != null && a.definition() != null && session.lazyObject(object).isPresent() && au.runsIn(pid)) {
                try {
                    // _dl_fixup: la_symbind64 sees the final address (an IFUNC's result) and may change it.
                    long target = a.callIfunc() ? au.callResolver(a.target()) : a.target();
                    if (au.isProfiled(object)) { // every call goes through la_pltenter: the slot stays unbound
                        target = au.profileSlot(object, index, session.lazyObject(object).get(), a.definition(), target);
                        return CallbackReply.lazy(target, a.slot(), false, false, name[0], name[1]);
                    }
                    target = au.symbind(session.lazyObject(object).get(), a.definition(), target, 0);
                    return CallbackReply.lazy(target, a.slot(), !bindNot, false, name[0], name[1]);
                } catch (org.jdryad.agent.AgentException e) {
                    // The process cannot run the modules now (a vfork child holds its parent's
                    // memory): this first call is answered unaudited.
                }
            }
            return CallbackReply.lazy(a.target(), a.slot(), !bindNot, a.callIfunc(), name[0], name[1]);
        } catch (LinkException e) {
            // glibc's _dl_fixup ends the program: "PROG: symbol lookup error: OBJ: undefined symbol: S"
            return CallbackReply.error(program + ": " + e.getMessage());
        }
    }
}
