"""A TCP relay to a PostgreSQL server that, once armed, answers a COMMIT the server confirmed
with that confirmation and then a FATAL "terminating connection due to administrator command",
and closes, as a server under a fast shutdown may (the FATAL before the ReadyForQuery that
follows the COMMIT's CommandComplete): the COMMIT took effect, the connection is gone.

    with FatalAfterCommit("127.0.0.1", port) as relay:   # relay.port: connect here instead
        relay.armed = True                                # the next COMMIT confirmed, once
        relay.before_answer = True                        # (or: cut before its answer)

Deterministic: it acts on the protocol's bytes, never on time.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

COMMIT_DONE = b"C" + struct.pack("!i", 4 + len(b"COMMIT\0")) + b"COMMIT\0"  # CommandComplete


def _fatal() -> bytes:
    fields = (b"SFATAL\0VFATAL\0C57P01\0"
              b"Mterminating connection due to administrator command\0\0")
    return b"E" + struct.pack("!i", 4 + len(fields)) + fields


class FatalAfterCommit:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.armed = False
        self.before_answer = False  # cut before the COMMIT's answer instead, with no FATAL
        self.cut = 0  # connections cut after a confirmed COMMIT
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def __enter__(self) -> FatalAfterCommit:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *_exc) -> None:
        self._listener.close()
        with self._lock:
            for each in self._sockets:
                each.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, from_server: bool) -> None:
        tail = b""  # the end of what went before, for a message split over two reads
        try:
            while data := source.recv(65536):
                seen = tail + data
                at = seen.find(COMMIT_DONE) if from_server and self.armed else -1
                if at < 0:
                    sink.sendall(data)
                    tail = seen[-(len(COMMIT_DONE) - 1):]
                    continue
                end = at if self.before_answer else at + len(COMMIT_DONE)
                # counted before the client can see the answer: a test reading `cut` as soon
                # as its reply is back must find it (counted after, 1 run in ~300 did not)
                self.cut += 1
                self.armed = False  # once
                sink.sendall(data[:max(end - len(tail), 0)] + (
                    b"" if self.before_answer else _fatal()))
                break
        except OSError:  # the other side closed or was cut: this direction ends too
            return
        finally:
            for each in (source, sink):
                with contextlib.suppress(OSError):
                    each.shutdown(socket.SHUT_RDWR)
                each.close()
