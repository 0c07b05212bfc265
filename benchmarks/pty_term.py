"""The terminal a benchmark runs the TUI in: a pty it reads like a terminal would, and a
minimal screen model of what is shown (for bench_ui.py)."""

from __future__ import annotations

import fcntl
import os
import re
import signal
import struct
import subprocess
import termios
import threading
import time

ANSI = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78]")
SYNC_END = b"\x1b[?2026l"
DECRQM = b"\x1b[?2026$p"
WIDTH, HEIGHT = 160, 48


def die_with_parent() -> None:
    """In a child: get SIGTERM when this benchmark dies (so nothing is left behind)."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
    except OSError:
        pass


TOKEN = re.compile(rb"\x1b\[([0-9;?<>=]*)([ -/]*)([@-~])|\x1b[()][0-9A-Za-z]|\x1b[=>78]|\r|\n|\x08")


class Screen:
    """A minimal terminal model: cursor moves (CUP, CR/LF) and text; attributes ignored.

    Textual repaints only the changed span of a row, so "what is on screen" must be read from
    a screen model, not from the byte stream.
    """

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.rows = [[" "] * width for _ in range(height)]
        self.x = self.y = 0
        self._pending = b""

    def feed(self, data: bytes) -> None:
        data = self._pending + data
        self._pending = b""
        pos = 0
        for m in TOKEN.finditer(data):
            if m.start() > pos:
                self._text(data[pos : m.start()])
            pos = m.end()
            tok = m.group(0)
            if tok == b"\r":
                self.x = 0
            elif tok == b"\n":
                self.y = min(self.height - 1, self.y + 1)
            elif tok == b"\x08":
                self.x = max(0, self.x - 1)
            elif m.group(3) == b"H":
                parts = (m.group(1) or b"").split(b";")
                self.y = max(0, int(parts[0] or 1) - 1)
                self.x = max(0, int(parts[1] or 1) - 1) if len(parts) > 1 else 0
        rest = data[pos:]
        cut = rest.rfind(b"\x1b")
        if cut >= 0 and len(rest) - cut < 32:  # an escape sequence split across reads
            self._pending = rest[cut:]
            rest = rest[:cut]
        self._text(rest)

    def _text(self, raw: bytes) -> None:
        if not raw:
            return
        text = raw.decode("utf-8", "replace")
        if 0 <= self.y < self.height and self.x < self.width:
            start = max(0, self.x)
            chunk = text[start - self.x : self.width - self.x]
            self.rows[self.y][start : start + len(chunk)] = chunk
        self.x += len(text)

    def line(self, y: int) -> str:
        return "".join(self.rows[y])

    def text(self) -> str:
        return "\n".join(self.line(y) for y in range(self.height))


class Pty:
    """The TUI's terminal: reads everything it writes, answers the sync-output query."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", HEIGHT, WIDTH, 0, 0))
        self.master = master
        self.proc = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        os.close(slave)
        self.lock = threading.Lock()
        self.chunks: list[tuple[float, bytes]] = []
        self.bytes = 0
        self.frames = 0
        self.frame_times: list[float] = []
        """When each frame's end (``ESC[?2026l``) was read."""
        self.text = bytearray()
        """Output with escape sequences removed (for finding what was drawn)."""
        self.screen = Screen(WIDTH, HEIGHT)
        self._stop = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        tail = b""
        while not self._stop:
            try:
                data = os.read(self.master, 1 << 16)
            except OSError:
                return
            if not data:
                return
            now = time.monotonic()
            both = tail + data
            if DECRQM in both:
                os.write(self.master, b"\x1b[?2026;2$y")
            frames = both.count(SYNC_END) - tail.count(SYNC_END)
            with self.lock:
                self.bytes += len(data)
                self.frames += frames
                self.frame_times.extend([now] * frames)
                self.chunks.append((now, data))
                self.text += ANSI.sub(b"", data)
                self.screen.feed(data)
            tail = data[-16:]

    def mark(self) -> int:
        """An offset into the stripped text (what is drawn after now starts there)."""
        with self.lock:
            return len(self.text)

    def wait_text(self, needle: bytes, since: int, timeout: float) -> float | None:
        """Seconds until ``needle`` appears in the output after ``since``; None on timeout."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            with self.lock:
                if self.text.find(needle, max(0, since - len(needle))) >= 0:
                    return time.monotonic() - t0
            time.sleep(0.0005)
        return None

    def wait_screen(self, needle: str, timeout: float, row: int | None = None) -> float | None:
        """Seconds until ``needle`` is on the screen (on ``row`` if given); None on timeout."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            with self.lock:
                shown = self.screen.line(row) if row is not None else self.screen.text()
            if needle in shown:
                return time.monotonic() - t0
            time.sleep(0.001)
        return None

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        self._stop = True
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        os.close(self.master)
