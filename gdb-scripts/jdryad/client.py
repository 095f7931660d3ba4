"""The query server's client: where the server is, and one JSON line per request and reply.

The server's socket path is read from the agent's `jdryad_query_info`
(struct { int version; int pid; char path[108]; }) in the inferior's memory, else from
JDRYAD_QUERY_SOCKET in gdb's environment (jdryad run --gdb sets it).

When the server cannot answer, Unreachable says why in words a user can act on: a core file
(the Java side is not in it), a Java side that died (its pid, from jdryad_query_info, is gone), a
server of another user (it refuses, or its directory is closed), one that does not answer in
time (TIMEOUT seconds: gdb never hangs on it).
"""
import itertools
import json
import os
import socket
import struct

import gdb

PROTOCOL_VERSION = 1
INFO_SIZE = 4 + 4 + 108
MAX_REPLY = 64 << 20
TIMEOUT = 5.0
_ids = itertools.count(1)


class Unreachable(Exception):
    """The server cannot be reached (why is the message)."""


class QueryError(Exception):
    """The server answered with an error."""


def is_core():
    """Whether gdb is looking at a core file (no live process: no Java side to ask)."""
    inferior = gdb.selected_inferior()
    connection = getattr(inferior, "connection", None) if inferior is not None else None
    if connection is not None:
        return connection.type == "core"
    try:
        return "Local core dump file" in gdb.execute("info target", to_string=True)
    except gdb.error:
        return False


def _query_info():
    """(version, Java side's pid, socket path) from the inferior's jdryad_query_info, or None."""
    inferior = gdb.selected_inferior()
    if inferior is None or gdb.selected_thread() is None:
        return None
    try:
        address = int(gdb.parse_and_eval("&jdryad_query_info").cast(gdb.lookup_type("unsigned long")))
        raw = bytes(inferior.read_memory(address, INFO_SIZE))
    except (gdb.error, gdb.MemoryError, RuntimeError):
        return None
    version, pid = struct.unpack_from("<ii", raw)
    path = raw[8:].split(b"\0", 1)[0].decode("utf-8", "replace")
    return version, pid, path


def _from_inferior():
    info = _query_info()
    if info is None:
        return None
    version, pid, path = info
    return (path, pid) if version == PROTOCOL_VERSION and path else None


def socket_path():
    """The server's socket, or None when nothing says where it is."""
    found = _from_inferior()
    if found:
        return found[0]
    return os.environ.get("JDRYAD_QUERY_SOCKET") or None


def _java_side_gone(pid):
    """Whether the Java side's process is known to be gone (its pid names no process)."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # it exists (perhaps another user's)
    try:  # a zombie: killed, its parent has not reaped it yet
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return False


def _why_unreachable(path, pid, error):
    if _java_side_gone(pid):
        return "jdryad's Java side (pid %d) has died" % pid
    if isinstance(error, socket.timeout):
        return "%s: no answer within %g s" % (path, TIMEOUT)
    if isinstance(error, PermissionError):
        return "%s: permission denied (the server belongs to another user)" % path
    return "%s: %s" % (path, error.strerror or error)


def query(op, **filters):
    """Sends one request and returns its result; raises Unreachable or QueryError."""
    if is_core():
        raise Unreachable("a core file: jdryad's Java side is not in it")
    found = _from_inferior()
    path, pid = found if found else (os.environ.get("JDRYAD_QUERY_SOCKET") or None, 0)
    if path is None:
        info = _query_info()
        if info is not None and info[0] == 0:
            raise Unreachable("jdryad_query_info is empty: this run has no query server (JDRYAD_QUERY=off?)")
        raise Unreachable("no jdryad_query_info in the inferior and no JDRYAD_QUERY_SOCKET")
    request = {"v": PROTOCOL_VERSION, "id": next(_ids), "op": op}
    request.update({k: v for k, v in filters.items() if v is not None and v is not False})
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(TIMEOUT)
            s.connect(path)
            try:
                s.sendall((json.dumps(request) + "\n").encode("utf-8"))
            except BrokenPipeError:
                pass  # a server that turns us away may say why and close before our request is sent
            reply = _read_line(s)
    except OSError as e:
        raise Unreachable(_why_unreachable(path, pid, e)) from None
    try:
        answer = json.loads(reply)
    except ValueError:
        raise Unreachable("%s: the reply is not JSON" % path) from None
    if isinstance(answer, dict) and answer.get("id") is None and answer.get("ok") is False:
        # Said before any request was read: the server turned the connection away.
        raise Unreachable("%s: %s" % (path, answer.get("error")))
    if not isinstance(answer, dict) or answer.get("id") != request["id"]:
        raise Unreachable("%s: the reply does not answer the request" % path)
    if not answer.get("ok"):
        raise QueryError(str(answer.get("error")))
    return answer.get("result")


def _read_line(s):
    chunks = []
    size = 0
    while True:
        chunk = s.recv(65536)
        if not chunk:
            raise OSError(0, "the server closed the connection")
        nl = chunk.find(b"\n")
        if nl >= 0:
            chunks.append(chunk[:nl])
            return b"".join(chunks).decode("utf-8")
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_REPLY:
            raise OSError(0, "reply too long")
