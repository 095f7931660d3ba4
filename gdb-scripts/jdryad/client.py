"""The query server's client: where the server is, and one JSON line per request and reply.

The server's socket path is read from the agent's `jdryad_query_info`
(struct { int version; int pid; char path[108]; }) in the inferior's memory, else from
JDRYAD_QUERY_SOCKET in gdb's environment (jdryad run --gdb sets it).
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
_ids = itertools.count(1)


class Unreachable(Exception):
    """The server cannot be reached (why is the message)."""


class QueryError(Exception):
    """The server answered with an error."""


def _from_inferior():
    inferior = gdb.selected_inferior()
    if inferior is None or inferior.pid == 0:
        return None
    try:
        address = int(gdb.parse_and_eval("&jdryad_query_info").cast(gdb.lookup_type("unsigned long")))
        raw = bytes(inferior.read_memory(address, INFO_SIZE))
    except (gdb.error, gdb.MemoryError, RuntimeError):
        return None
    version, _pid = struct.unpack_from("<ii", raw)
    path = raw[8:].split(b"\0", 1)[0].decode("utf-8", "replace")
    return path if version == PROTOCOL_VERSION and path else None


def socket_path():
    """The server's socket, or None when nothing says where it is."""
    return _from_inferior() or os.environ.get("JDRYAD_QUERY_SOCKET") or None


def query(op, **filters):
    """Sends one request and returns its result; raises Unreachable or QueryError."""
    path = socket_path()
    if path is None:
        raise Unreachable("no jdryad_query_info in the inferior and no JDRYAD_QUERY_SOCKET")
    request = {"v": PROTOCOL_VERSION, "id": next(_ids), "op": op}
    request.update({k: v for k, v in filters.items() if v is not None and v is not False})
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(path)
            s.sendall((json.dumps(request) + "\n").encode("utf-8"))
            reply = _read_line(s)
    except OSError as e:
        raise Unreachable("%s: %s" % (path, e.strerror or e)) from None
    try:
        answer = json.loads(reply)
    except ValueError:
        raise Unreachable("%s: the reply is not JSON" % path) from None
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
