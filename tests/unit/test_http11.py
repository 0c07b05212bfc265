"""cockpit.adapters.http11: reading one HTTP/1.1 answer off a socket."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from cockpit.adapters.http11 import HttpError, read_answer


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    a.settimeout(2)
    yield a, b
    a.close()
    b.close()


def feed(sock: socket.socket, *parts: bytes, gap: float = 0.0) -> threading.Thread:
    """Write ``parts`` one by one (a pause between them: the answer arrives in pieces)."""

    def run() -> None:
        for part in parts:
            sock.sendall(part)
            if gap:
                time.sleep(gap)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_content_length_answer_in_pieces_keeps_the_connection(pair) -> None:
    a, b = pair
    body = b'{"status":"success","orderid":"42"}'
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    feed(b, head, b"Content-Length: %d\r\n\r\n" % len(body), body[:10], body[10:], gap=0.01).join()
    answer = read_answer(a)
    assert (answer.status, answer.reason, answer.body) == (200, "OK", body)
    assert answer.header("content-type") == "application/json"
    assert not answer.will_close


def test_two_answers_in_a_row_on_one_connection(pair) -> None:
    a, b = pair
    b.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
    assert read_answer(a).body == b"{}"
    b.sendall(b"HTTP/1.1 429 TOO MANY REQUESTS\r\nRetry-After: 3\r\nContent-Length: 0\r\n\r\n")
    answer = read_answer(a)
    assert (answer.status, answer.header("Retry-After"), answer.body) == (429, "3", b"")


def test_chunked_with_extensions_and_trailers(pair) -> None:
    a, b = pair
    b.sendall(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n"
    )
    answer = read_answer(a)
    assert answer.body == b"hello world"
    assert not answer.will_close


def test_interim_answer_is_skipped(pair) -> None:
    a, b = pair
    b.sendall(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx")
    answer = read_answer(a)
    assert (answer.status, answer.body) == (201, b"x")


def test_close_framed_body_and_connection_close(pair) -> None:
    a, b = pair
    b.sendall(b"HTTP/1.0 200 OK\r\n\r\nthe whole rest")
    b.shutdown(socket.SHUT_WR)
    answer = read_answer(a)
    assert answer.body == b"the whole rest"
    assert answer.will_close


@pytest.mark.parametrize(
    ("head", "closes"),
    [
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\n", True),
        (b"HTTP/1.0 200 OK\r\n", True),
        (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n", False),
        (b"HTTP/1.1 200 OK\r\n", False),
    ],
)
def test_will_close_follows_the_version_and_connection_header(pair, head, closes) -> None:
    a, b = pair
    b.sendall(head + b"Content-Length: 0\r\n\r\n")
    assert read_answer(a).will_close is closes


def test_bytes_after_the_answer_mark_the_connection_unusable(pair) -> None:
    a, b = pair
    b.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}junk")
    answer = read_answer(a)
    assert answer.body == b"{}"
    assert answer.will_close


@pytest.mark.parametrize(
    "raw",
    [
        b"SMTP ready\r\n\r\n",
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY",
    ],
)
def test_malformed_answers_are_an_http_error(pair, raw) -> None:
    a, b = pair
    b.sendall(raw)
    with pytest.raises(HttpError):
        read_answer(a)


def test_a_connection_closed_mid_answer_is_a_connection_error(pair) -> None:
    a, b = pair
    b.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    b.shutdown(socket.SHUT_WR)
    with pytest.raises(ConnectionError):
        read_answer(a)


def test_no_answer_within_the_timeout(pair) -> None:
    a, _b = pair
    a.settimeout(0.05)
    with pytest.raises(TimeoutError):
        read_answer(a)


def test_a_header_block_without_end_is_refused(pair) -> None:
    a, b = pair
    feed(b, b"HTTP/1.1 200 OK\r\n", b"X: " + b"y" * 70_000)
    with pytest.raises(HttpError):
        read_answer(a)
