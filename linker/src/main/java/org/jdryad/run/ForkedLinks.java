package org.jdryad.run;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jdryad.agent.AgentProcess;
import org.jdryad.agent.CallbackReply;
import org.jdryad.agent.ForkAdopter;
import org.jdryad.debug.BindingHistory;

/**
 * The link of every process of a run that calls into jdryad: the run's own and its forked
 * children (and theirs). A child that says HELLO_CHILD gets its own {@link ProcessLink}, thawed
 * from the state its parent had in the generation the child was forked in, and its dlopen,
 * dlsym, dlclose, dladdr and lazy first calls are answered from it, in its own memory.
 */
final class ForkedLinks implements ForkAdopter {
    private final Map<Long, ProcessLink> byPid = new ConcurrentHashMap<>();
    private final BindingHistory history;
    private final boolean bindNot;
    private final String program;

    ForkedLinks(ProcessLink run, BindingHistory history, boolean bindNot, String program) {
        this.history = history;
        this.bindNot = bindNot;
        this.program = program;
        byPid.put(run.pid, run);
    }

    @Override
    public Adopted adopt(long pid, long parentPid, long generation) {
        ProcessLink parent = byPid.get(parentPid);
        ProcessLink state = parent == null ? null : parent.stateForChild(generation);
        return state == null ? null : new Child(pid, state);
    }

    /** One child's callbacks, answered by its own link once its connection is attached. */
    private final class Child implements Adopted {
        private final long pid;
        private final ProcessLink state;
        private volatile ProcessLink link;

        Child(long pid, ProcessLink state) {
            this.pid = pid;
            this.state = state;
        }

        @Override
        public void attach(AgentProcess child) {
            link = state.child(child, pid, history, bindNot, program);
            byPid.put(pid, link);
        }

        @Override
        public void detached() {
            byPid.remove(pid);
        }

        @Override
        public CallbackReply dlopen(String name, int flags, long caller, long tid) {
            return link.loader.dlopen(name, flags, caller, tid);
        }

        @Override
        public CallbackReply dlmopen(long lmid, String name, int flags, long caller, long tid) {
            return link.loader.dlmopen(lmid, name, flags, caller, tid);
        }

        @Override
        public CallbackReply dlsym(long handle, String name, String version, long caller, long tid) {
            return link.loader.dlsym(handle, name, version, caller, tid);
        }

        @Override
        public CallbackReply dlclose(long handle, long caller, long tid) {
            return link.loader.dlclose(handle, caller, tid);
        }

        @Override
        public CallbackReply dladdr(long address) {
            return link.loader.dladdr(address);
        }

        @Override
        public CallbackReply dlinfo(long handle, int request) {
            return link.loader.dlinfo(handle, request);
        }

        @Override
        public CallbackReply bindLazily(long object, long index, long caller, long tid, long pid) {
            return link.lazy.bind(object, index, caller, tid, pid);
        }
    }
}
