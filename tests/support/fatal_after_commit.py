"""A TCP relay to a PostgreSQL server that, once armed, answers a commit the server confirmed
with that confirmation and then a FATAL "terminating connection due to administrator command",
and closes, as a server under a fast shutdown may (the FATAL before the ReadyForQuery that
follows the COMMIT's CommandComplete): the commit took effect, the connection is gone. With
`hold_answer` it holds that confirmation instead, until `release()`: the commit took effect and
its answer is late, as from a server frozen just after it committed.

A commit is confirmed by a COMMIT's CommandComplete, or, for a transaction without BEGIN that
the server commits at a Sync (storage/pg_pipeline.py `whole`: a write's limits and its
statements), by the ReadyForQuery "idle" that ends a Sync of several statements, or of one
whose tag is a write's (a read outside a transaction is one SELECT; a read pipeline has its
BEGIN, so its Sync leaves a transaction open, "T").

    with FatalAfterCommit("127.0.0.1", port) as relay:   # relay.port: connect here instead
        relay.armed = True                                # the next commit confirmed, once
        relay.before_answer = True                        # (or: cut before its answer)
        relay.fatal_instead = True                        # (or: the FATAL in its place)
        relay.hold_answer = True                          # (or: the confirmation held)
        relay.release()                                   # (let the held one through)

Connect with `sslmode=disable` (`RELAY_QUERY`): the relay reads the server's messages, and an
SSL or GSS request's one-byte answer is none. Deterministic: it acts on the protocol's
messages, never on time.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator

from sqlalchemy.engine import make_url

from storage.engine import Database

RELAY_QUERY = {"sslmode": "disable", "gssencmode": "disable"}  # (the URL's query)
_WRITES = (b"INSERT ", b"UPDATE ", b"DELETE ")


def _fatal() -> bytes:
    fields = (b"SFATAL\0VFATAL\0C57P01\0"
              b"Mterminating connection due to administrator command\0\0")
    return b"E" + struct.pack("!i", 4 + len(fields)) + fields


class _Commits:
    """Reads the server's messages as they come and says which one confirms a commit."""

    def __init__(self) -> None:
        self.pending = b""
        self.completed = 0  # CommandCompletes since the last ReadyForQuery
        self.wrote = False  # one of them a write's

    def messages(self, data: bytes):
        """Each whole message in what arrived so far, and whether it confirms a commit."""
        self.pending += data
        while len(self.pending) >= 5:
            length = struct.unpack("!i", self.pending[1:5])[0]
            if len(self.pending) < 1 + length:
                return
            message, self.pending = self.pending[:1 + length], self.pending[1 + length:]
            yield message, self._confirms(message)

    def _confirms(self, message: bytes) -> bool:
        kind, body = message[:1], message[5:]
        if kind == b"C":  # CommandComplete
            self.completed += 1
            self.wrote = self.wrote or body.startswith(_WRITES)
            return body == b"COMMIT\0"
        if kind == b"Z":  # ReadyForQuery: "I" idle (a transaction ended), "T" in one
            confirms = body == b"I" and (self.completed > 1 or self.wrote)
            self.completed, self.wrote = 0, False
            return confirms
        return False


class FatalAfterCommit:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.armed = False
        self.before_answer = False  # cut before the COMMIT's answer instead, with no FATAL
        self.fatal_instead = False  # the FATAL instead of the commit's answer
        # hold the confirmation (and what follows) until `release`: a pipeline's commit (a chat
        # command's write), not a simple query's COMMIT (a read's end, storage/plans.py)
        self.hold_answer = False
        self.cut = 0  # connections cut after a confirmed COMMIT
        self.held = 0  # confirmations held
        self._released = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def __enter__(self) -> FatalAfterCommit:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *_exc) -> None:
        self._released.set()
        self._listener.close()
        with self._lock:
            for each in self._sockets:  # shut down first: a pump blocked on it wakes, and a
                with contextlib.suppress(OSError):  # client waiting on its answer gets EOF
                    each.shutdown(socket.SHUT_RDWR)  # (a failed test never hangs at exit)
                each.close()

    def release(self) -> None:
        """Let a held confirmation (and everything after it) through."""
        self._released.set()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, server]
            sent_simple = [False]  # the client's last message a simple query (not a pipeline)
            for source, sink, from_server in ((client, server, False), (server, client, True)):
                threading.Thread(target=self._pump, args=(source, sink, from_server, sent_simple),
                                 daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, from_server: bool,
              sent_simple: list[bool]) -> None:
        commits = _Commits()
        try:
            while data := source.recv(65536):
                if not from_server:
                    sent_simple[0] = data[:1] == b"Q"
                    sink.sendall(data)
                    continue
                out = b""
                for message, confirms in commits.messages(data):
                    if not (confirms and self.armed) or self.hold_answer and sent_simple[0]:
                        out += message
                        continue
                    if self.hold_answer:  # the commit took effect; its answer waits
                        self.held += 1
                        self.armed = False  # once
                        sink.sendall(out)
                        self._released.wait()
                        out = message
                        continue
                    # counted before the client can see the answer: a test reading `cut` as
                    # soon as its reply is back must find it (counted after, 1 run in ~300
                    # did not)
                    self.cut += 1
                    self.armed = False  # once
                    sink.sendall(out + (b"" if self.before_answer else _fatal()
                                        if self.fatal_instead else message + _fatal()))
                    return
                sink.sendall(out)
        except OSError:  # the other side closed or was cut: this direction ends too
            return
        finally:
            for each in (source, sink):
                with contextlib.suppress(OSError):
                    each.shutdown(socket.SHUT_RDWR)
                each.close()


@contextlib.contextmanager
def through_relay(database_url: str) -> Iterator[tuple[FatalAfterCommit, Database]]:
    """A relay to `database_url`'s server (not armed yet) and a Database reached through it."""
    url = make_url(database_url)
    with FatalAfterCommit(url.host, url.port) as relay:
        database = Database.from_url(
            url.set(host="127.0.0.1", port=relay.port).update_query_dict(RELAY_QUERY)
            .render_as_string(hide_password=False))
        try:
            yield relay, database
        finally:
            database.dispose()
