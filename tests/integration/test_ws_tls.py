"""WsConnection over wss:// (TLS on loopback with a throwaway certificate)."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_ws_connection import FAST, EchoProtocol, Recorder, Sink
from wsloop import LoopServer

from cockpit.adapters.ws import WsConnection
from cockpit.domain.feed import FeedState, FeedStatus

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


@pytest.fixture
def cert(tmp_path: Path) -> tuple[Path, Path]:
    crt, key = tmp_path / "c.pem", tmp_path / "k.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(crt),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return crt, key


@pytest.fixture
def tls_server(cert) -> Iterator[tuple[LoopServer, Recorder]]:
    crt, key = cert
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    rec = Recorder()

    def handler(conn) -> None:
        rec.conns.append(conn)
        conn.recv_text()
        conn.send(json.dumps({"ok": True}))
        conn.recv_text()  # subscribe
        big = "x" * 100_000  # spans several TLS records
        for v in range(500):
            conn.send(json.dumps({"k": big if v % 100 == 0 else "A", "v": v}))
        conn.recv_text(timeout=5)

    srv = LoopServer(handler, ssl_context=ctx)
    yield srv, rec
    srv.stop()


def test_streams_over_tls_with_a_trusted_certificate(tls_server, cert) -> None:
    srv, _ = tls_server
    sink = Sink()
    proto = EchoProtocol(srv.url)
    proto.sslopt = {"ca_certs": str(cert[0])}
    conn = WsConnection(proto, sink, backoff=FAST)
    conn.subscribe(["A"], "ltp")
    conn.start()
    try:
        assert sink.wait(lambda: len(sink.events()) == 500, timeout=15)
        assert [v for _, v in sink.events()] == list(range(500))
        assert conn.stats()["rejected"] == 0
    finally:
        assert conn.stop(timeout=3)


def test_untrusted_certificate_is_refused_by_default(tls_server) -> None:
    srv, _ = tls_server
    sink = Sink()
    conn = WsConnection(EchoProtocol(srv.url), sink, backoff=FAST)
    conn.start()
    try:
        assert sink.wait(
            lambda: any(
                isinstance(s, FeedStatus) and s.state == FeedState.RECONNECTING
                for s in sink.drain()
            ),
            timeout=10,
        )
        reasons = [s.reason for s in sink.drain() if isinstance(s, FeedStatus)]
        assert any("certificate" in r.lower() for r in reasons), reasons
        assert sink.events() == []
    finally:
        assert conn.stop(timeout=3)
