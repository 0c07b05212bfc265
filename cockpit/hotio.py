"""System calls that keep the GIL, for the few bytes an exit writes.

CPython lets go of the GIL around every system call that may block (``os.write``,
``socket.send``, ``select``). On the exit path each of those is a chance for another thread
(a router worker reading an answer, the viewer server, a journal commit) to take the GIL,
and getting it back costs up to the switch interval: measured in the exit-latency benchmark,
0.1-0.8 ms between deciding an exit and its bytes leaving. A call through
:class:`ctypes.PyDLL` keeps the GIL for the call's duration. That is right only for a call
that cannot block and returns in microseconds: a few hundred bytes into a connected socket's
buffer, a poll with a zero timeout. Anything that can wait goes through the ordinary calls.
(The exit's intent line needs no call at all: the journal maps its intent log in memory.)

Linux (glibc or musl); where libc cannot be loaded the ordinary calls are used.
"""

from __future__ import annotations

import ctypes
import errno
import os
import select
import socket
from typing import Final

_POLLIN: Final = 0x001
_POLLERR: Final = 0x008
_POLLHUP: Final = 0x010
_POLLNVAL: Final = 0x020
_MSG_DONTWAIT: Final = getattr(socket, "MSG_DONTWAIT", 0x40)
_MSG_NOSIGNAL: Final = getattr(socket, "MSG_NOSIGNAL", 0x4000)


class _PollFd(ctypes.Structure):
    _fields_ = (("fd", ctypes.c_int), ("events", ctypes.c_short), ("revents", ctypes.c_short))


try:
    _libc = ctypes.PyDLL(None, use_errno=True)  # PyDLL: the GIL stays held during a call
    _send = _libc.send
    _send.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int)
    _send.restype = ctypes.c_ssize_t
    _poll = _libc.poll
    _poll.argtypes = (ctypes.POINTER(_PollFd), ctypes.c_ulong, ctypes.c_int)
    _poll.restype = ctypes.c_int
    AVAILABLE = True
except (OSError, AttributeError):  # pragma: no cover - no loadable libc
    AVAILABLE = False


def _raise_errno() -> None:
    err = ctypes.get_errno()
    raise OSError(err, os.strerror(err))


def send_all(sock: socket.socket, data: bytes) -> None:
    """Send all of ``data`` on a connected socket; the GIL is kept while it fits the buffer.

    What does not fit (the peer stopped reading) is sent by ``sock.sendall``, which waits
    up to the socket's timeout like any send. Raises ``OSError`` as ``sendall`` does.
    """
    if not AVAILABLE:
        sock.sendall(data)
        return
    n = _send(sock.fileno(), data, len(data), _MSG_DONTWAIT | _MSG_NOSIGNAL)
    if n < 0:
        err = ctypes.get_errno()
        if err not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR):
            raise OSError(err, os.strerror(err))
        n = 0
    if n < len(data):
        sock.sendall(data[n:])


def readable_now(sock: socket.socket) -> bool:
    """Whether ``sock`` has something to read, or is closed or broken, right now (no wait)."""
    if not AVAILABLE:
        return bool(select.select([sock], [], [], 0)[0])
    pfd = _PollFd(sock.fileno(), _POLLIN, 0)
    n = _poll(ctypes.byref(pfd), 1, 0)
    if n < 0:
        _raise_errno()
    return n > 0 and bool(pfd.revents & (_POLLIN | _POLLERR | _POLLHUP | _POLLNVAL))
