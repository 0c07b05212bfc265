"""The exit lane: every exit of a burst written to the venue before any answer is read.

Kept for speed, in this one module (``benchmarks/bench_exit_latency.py --ab`` runs the burst
through it and through the router's httpx workers in the same run). One thread owns keep-alive
connections to an ``http://`` OpenAlgo server (``connections`` kept open, more opened on
demand, one request in flight on each). Each exit (the router's JSON after a header block
built once per path and length) is written on a connection of its own by the thread that
submits it (``inline``: no wakeup of the lane thread between the journal's commit and the
wire; when the lane thread is busy at that instant, or ``inline`` is off, it is queued and the
lane thread writes it); the lane thread reads the answers (a ``selectors`` loop;
:class:`_Answer` reads HTTP/1.1: Content-Length, chunked or to the close). One lock keeps the
lane's state; the lane thread drops it only while it waits in ``select``.
Each outcome goes to ``answered``: an answer, or a ``SendError`` whose ``sent`` is False only if
no byte of the request left. ``turn`` is asked before each write (the Retry-After gate and the
order token bucket). An idle connection the server closed is seen at once (it turns readable)
and replaced; one closed in the instant before a write fails the write, which sent nothing.
"""

from __future__ import annotations

import collections
import errno
import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import urlsplit

from cockpit.adapters.openalgo.transport import Answer, SendError

_WAKE: Final = object()
_CONNECTING: Final = (0, errno.EINPROGRESS, errno.EWOULDBLOCK)
MAX_CONNECTIONS: Final = 64
log = logging.getLogger(__name__)


class _Answer:
    """An HTTP/1.1 response read as its bytes come: ``feed`` until it returns True."""

    def __init__(self) -> None:
        self.buf = self.body = b""
        self.status, self.reason = 0, ""
        self.headers: dict[str, str] = {}
        self.length: int | None = None
        self.chunked = self.close = False

    def feed(self, data: bytes) -> bool:
        """Take ``data`` (b"" at the server's close); True once the answer is whole."""
        self.buf += data
        eof = not data
        while not self.status:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return self._cut(eof)
            status, *lines = self.buf[:end].decode("latin-1").split("\r\n")
            self.buf = self.buf[end + 4 :]
            version, _, rest = status.partition(" ")
            code, _, self.reason = rest.partition(" ")
            if not version.startswith("HTTP/1.") or not code.isdigit():
                raise ValueError(f"not an HTTP/1.x status line: {status[:40]!r}")
            self.headers = {k.strip().lower(): v.strip() for k, _, v in
                            (line.partition(":") for line in lines)}  # fmt: skip
            if int(code) >= 200:  # else 1xx: the answer itself follows
                self._head(int(code), version)
        if self.chunked:
            return self._chunks(eof)
        if self.length is None:  # the body runs to the close
            self.body = self.buf if eof else b""
            return eof
        if len(self.buf) < self.length:
            return self._cut(eof)
        self.body, self.buf = self.buf[: self.length], self.buf[self.length :]
        return True

    def _head(self, status: int, version: str) -> None:
        self.status = status
        conn = self.headers.get("connection", "").lower()
        self.close = conn == "close" or (version == "HTTP/1.0" and conn != "keep-alive")
        self.chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        if not self.chunked and "content-length" in self.headers:
            self.length = int(self.headers["content-length"])
        self.close |= not self.chunked and self.length is None

    def _chunks(self, eof: bool) -> bool:
        while (end := self.buf.find(b"\r\n")) >= 0:
            size = int(self.buf[:end].split(b";")[0], 16)
            if size == 0:  # the last chunk, then trailers (if any) and an empty line
                rest = self.buf[end + 2 :]
                stop = 0 if rest.startswith(b"\r\n") else rest.find(b"\r\n\r\n") + 2
                if stop < 2 and not rest.startswith(b"\r\n"):
                    return self._cut(eof)
                self.buf = rest[stop + 2 :]
                return True
            if len(self.buf) < end + size + 4:
                break
            self.body += self.buf[end + 2 : end + 2 + size]
            self.buf = self.buf[end + size + 4 :]
        return self._cut(eof)

    @staticmethod
    def _cut(eof: bool) -> bool:
        if eof:
            raise ConnectionError("the server closed the connection mid-answer")
        return False


class _Conn:
    """One keep-alive connection; ``job`` is the request in flight on it, if any."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.born = sock, time.monotonic()
        self.reused = False  # it was idle before this job (the server may have closed it)
        self.job: Any = None
        self.out = b""  # bytes still to write (a connect in progress, a partial write)
        self.sent_ns = self.wall_ns = 0
        self.deadline = 0.0
        self.wrote = False  # a byte of the job left: a lost answer is then uncertain
        self.answer = _Answer()
        self.watch_write = True  # registered for EVENT_WRITE too (it is being dialled)


class ExitLane:
    """Sends the router's exits (``submit``); outcomes reach ``answered`` on the lane thread.

    ``encode``: a request's ``(path, JSON body)``; ``turn``: seconds to wait before the next
    request may go (0: go, its token is taken); ``answered``: ``(request, Answer or SendError,
    sent_ns, sent_wall_ns)``; ``timeout_s``: from a write to the end of its answer.
    """

    def __init__(
        self,
        root: str,
        timeout_s: float,
        encode: Callable[[Any], tuple[str, bytes]],
        turn: Callable[[], float],
        answered: Callable[[Any, Answer | SendError, int, int], None],
        *,
        connections: int = 8,
    ) -> None:
        parts = urlsplit(root)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the exit lane speaks plain http only, not {parts.scheme!r}")
        self._addr = (parts.hostname, parts.port or 80)
        self._host = parts.netloc.encode("ascii")
        self._prefix = parts.path.rstrip("/").encode("ascii")
        self._timeout = timeout_s
        self._encode, self._turn, self._answered = encode, turn, answered
        self._warm, self._max = connections, max(connections, MAX_CONNECTIONS)
        self._heads: dict[tuple[str, int], bytes] = {}
        self._queue: collections.deque[Any] = collections.deque()
        self._idle: list[_Conn] = []
        self._busy: set[_Conn] = set()
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, _WAKE)
        self._stop = threading.Event()
        self._sleeping = False
        self._lock = threading.RLock()  # the lane's state: held by whoever writes or reads
        self._wake_at = 0.0  # when the sleeping lane thread looks at its deadlines next
        self.inline = True
        """Write on the submitting thread (``bench_exit_latency.py --inline-ab`` shows what
        it buys; off: every exit through the queue and the lane thread)."""
        self._thread = threading.Thread(target=self._run, name="router-exits", daemon=True)

    def start(self) -> None:
        """Open the idle connections (a server that is not up yet: they open on demand)."""
        try:  # the name looked up once, not on the way of an exit
            found = socket.getaddrinfo(*self._addr, socket.AF_INET, socket.SOCK_STREAM)[0][4]
            self._addr = (str(found[0]), int(found[1]))
        except OSError:
            pass  # looked up at each connect meanwhile
        while len(self._idle) < self._warm and self._open_idle():
            pass
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> tuple[list[Any], list[Any]]:
        """Stop; ``(requests never written, requests written and not answered)``."""
        self._stop.set()
        self._poke()
        if self._thread.is_alive():
            self._thread.join(timeout)
        with self._lock:  # a write on a submitting thread ends first
            return self._close_all()

    def _close_all(self) -> tuple[list[Any], list[Any]]:
        unsent, unanswered = list(self._queue), list[Any]()
        self._queue.clear()
        for conn in [*self._busy, *self._idle]:
            if conn.job is not None:
                (unanswered if conn.wrote else unsent).append(conn.job)
            conn.sock.close()
        self._busy.clear()
        self._idle.clear()
        for closing in (self._sel, self._wake_r, self._wake_w):
            closing.close()
        return unsent, unanswered

    def submit(self, request: Any, *, inline: bool = True) -> bool:
        """Write an exit now, on this thread, or queue it for the lane thread (never blocks;
        ``inline`` False: the lane thread writes it, as when ``turn`` may block). False: the
        lane is stopped and did not take it (the caller reports it; no outcome comes)."""
        if self._stop.is_set():
            return False
        here = inline and self.inline
        if here and self._lock.acquire(blocking=False):
            try:
                self._queue.append(request)
                self._write_queued()
                # Still queued (the turn, the connections), or a deadline before the lane
                # thread looks again: it must wake for it.
                poke = bool(self._queue) or any(c.deadline < self._wake_at for c in self._busy)
            finally:
                self._lock.release()
            if poke and self._sleeping:
                self._poke()
            return self._kept(request)
        self._queue.append(request)
        if self._sleeping:  # else it looks at the queue before it sleeps again
            self._poke()
        return self._kept(request)

    def _kept(self, request: Any) -> bool:
        """After queueing ``request``: False if the lane stopped meanwhile and it is still
        queued (taken back: ``stop`` did not return it and nobody will write it)."""
        if not self._stop.is_set():
            return True  # stop, later, writes it or returns it
        with self._lock:  # not between stop's look at the queue and its clearing
            try:
                self._queue.remove(request)
            except ValueError:
                return True  # written, or returned by stop
        return False

    def _poke(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except OSError:
            pass  # already awake (the pair is full) or closing

    # -- the loop --------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception:  # a bug must not stop the lane: logged, and the loop goes on
                log.exception("exit lane: unexpected error")
                self._stop.wait(0.01)

    def _step(self) -> None:
        """Write what is queued, sleep until a socket or a new exit needs the lane, serve it."""
        with self._lock:
            # "Sleeping" before the last look at the queue: a submitter that finds the lock
            # taken from here on pokes (one queued after the look would wait out the sleep).
            self._sleeping = True
            wait = self._write_queued()
            now = time.monotonic()
            for conn in self._busy:
                wait = min(wait, max(0.0, conn.deadline - now))
            self._wake_at = now + wait
        events = self._sel.select(wait)
        with self._lock:
            self._sleeping = False
            self._serve(events)

    def _serve(self, events: list[tuple[selectors.SelectorKey, int]]) -> None:
        for key, mask in events:
            if self._queue:
                self._write_queued()  # exits queued meanwhile go before answers are read
            conn = key.data
            try:
                if conn is _WAKE:
                    self._wake_r.recv(4096)
                elif conn.sock.fileno() < 0:
                    pass  # closed since the select (its idle check found the server's close)
                elif conn.job is None:
                    self._close(conn)  # idle, and the server closed it (or spoke out of turn)
                elif mask & selectors.EVENT_WRITE:
                    self._write(conn)
                else:
                    self._read(conn)
            except BlockingIOError:
                pass
            except Exception:  # a bug must not lose the exit on that connection
                log.exception("exit lane: unexpected error")
                if conn is not _WAKE and conn.job is not None:
                    self._lost(conn, "internal error")
        now = time.monotonic()
        for conn in [c for c in self._busy if c.deadline <= now]:
            self._lost(conn, "no answer in time" if conn.wrote else "connect timed out")

    def _write_queued(self) -> float:
        """Write what is queued as far as the turn and the connections allow; how long the
        loop may then sleep."""
        while self._queue and not self._stop.is_set():
            if not self._idle and len(self._busy) >= self._max:
                return 0.5  # every connection busy: an answer frees one
            wait = self._turn()
            if wait > 0:
                return wait
            request = self._queue.popleft()
            try:
                path, body = self._encode(request)
            except Exception as exc:  # a bad request must not stop the lane
                self._answered(request, SendError(repr(exc), sent=False, timed_out=False), 0, 0)
                continue
            head = self._heads.get((path, len(body)))
            if head is None:
                head = self._heads[path, len(body)] = b"".join(
                    (b"POST ", self._prefix, b"/", path.encode("ascii"), b" HTTP/1.1\r\nHost: ",
                     self._host, b"\r\nContent-Type: application/json\r\nContent-Length: ",
                     str(len(body)).encode(), b"\r\n\r\n")
                )  # fmt: skip
            conn = self._take_idle()
            if conn is None:
                try:
                    conn = self._dial()
                except OSError as exc:
                    error = SendError(f"cannot connect: {exc}", sent=False, timed_out=False)
                    self._answered(request, error, 0, 0)
                    continue
            conn.reused = conn.job is None and not conn.watch_write
            conn.job, conn.out, conn.wrote, conn.answer = request, head + body, False, _Answer()
            conn.sent_ns, conn.wall_ns = time.monotonic_ns(), time.time_ns()
            conn.deadline = time.monotonic() + self._timeout
            self._busy.add(conn)
            self._write(conn)
        return 0.5

    def _take_idle(self) -> _Conn | None:
        """The most recently used idle connection that is still open."""
        while self._idle:
            conn = self._idle.pop()
            try:  # open and silent: nothing to read, no end of stream
                conn.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            except BlockingIOError:
                return conn  # still registered for reading: no system call to re-register
            except OSError:
                pass
            self._close(conn)  # closed by the server, or words out of turn
        return None

    def _dial(self) -> _Conn:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        err = sock.connect_ex(self._addr)
        if err not in _CONNECTING:
            sock.close()
            raise OSError(err, "connect failed")
        conn = _Conn(sock)
        self._sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, conn)
        return conn

    def _open_idle(self) -> bool:
        try:
            conn = self._dial()
        except OSError:
            return False
        self._watch(conn, False)
        self._idle.append(conn)
        return True

    def _close(self, conn: _Conn, refill: bool = False) -> None:
        """Close ``conn``; open another while fewer than ``connections`` are open (not at
        once for one that lived under a second: a server refusing or closing at once)."""
        if conn.sock.fileno() < 0:
            return
        if conn in self._idle:
            self._idle.remove(conn)
        self._sel.unregister(conn.sock)
        conn.sock.close()
        if len(self._idle) + len(self._busy) < self._warm and (
            refill or time.monotonic() - conn.born >= 1.0
        ):
            self._open_idle()

    def _write(self, conn: _Conn) -> None:
        try:
            n = conn.sock.send(conn.out)
        except BlockingIOError:
            n = 0  # connecting, or the buffer is full: write when it turns writable
        except OSError as exc:
            self._lost(conn, f"write failed: {exc}")
            return
        if n:
            conn.wrote, conn.out = True, conn.out[n:]
        if conn.watch_write != bool(conn.out):
            self._watch(conn, bool(conn.out))

    def _watch(self, conn: _Conn, write: bool) -> None:
        """Watch ``conn`` for reading (always: an answer, or the server's close), and for
        writing while bytes wait (each change is a system call: only when it changes)."""
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if write else 0)
        self._sel.modify(conn.sock, events, conn)
        conn.watch_write = write

    def _read(self, conn: _Conn) -> None:
        try:
            if not conn.answer.feed(conn.sock.recv(65536)):
                return
        except BlockingIOError:
            return
        except (OSError, ValueError) as exc:
            self._lost(conn, f"answer lost: {exc}")
            return
        answer, request = conn.answer, conn.job
        self._busy.discard(conn)
        conn.job = None
        if answer.close or answer.buf:
            self._close(conn, refill=True)
        else:
            self._idle.append(conn)
        retry_after = answer.headers.get("retry-after") if answer.status == 429 else None
        outcome = (answer.status, answer.body, answer.reason, retry_after)
        self._answered(request, outcome, conn.sent_ns, conn.wall_ns)

    def _lost(self, conn: _Conn, why: str) -> None:
        """The connection broke or timed out with ``conn.job`` on it."""
        request, wrote = conn.job, conn.wrote
        timed_out = wrote and time.monotonic() >= conn.deadline
        self._busy.discard(conn)
        conn.job = None
        self._close(conn)
        if not wrote and conn.reused:
            # An idle connection the server closed just before the write: nothing left, so
            # the request goes again, on another connection.
            self._queue.appendleft(request)
            return
        self._answered(request, SendError(why, sent=wrote, timed_out=timed_out), conn.sent_ns,
                       conn.wall_ns)  # fmt: skip
