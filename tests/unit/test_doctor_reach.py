"""The wiring of `slim doctor`'s probe check (slim.run.reach) on the in-memory engine, with a local HTTP server
standing in for the container's listener. tests/integration/test_doctor.py runs it against the real engine."""

from __future__ import annotations

import http.server
import socket
import threading

import pytest

from fake_engine import Behaviour, FakeEngine
from slim.progress import Phases
from slim.run.reach import ANSWER, probe_reach
from tarbuild import layer


def _serve(body: bytes):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def engine():
    found = FakeEngine()
    found.add_image("slim-base/alpine:3.20", [layer(("bin", "dir"))], Behaviour(exit_code=None))
    return found


def test_the_listeners_answer_passes_and_the_container_goes(engine):
    server = _serve(ANSWER.encode())
    try:
        found = probe_reach(engine, Phases(), port=server.server_address[1])
    finally:
        server.shutdown()
    assert found["works"] is True and found["image"] == "slim-base/alpine:3.20"
    assert found["detail"] == f"GET http://127.0.0.1:{server.server_address[1]}/: status 200, body 'slim doctor\\n'"
    assert engine.containers == {}


def test_another_answer_on_the_port_is_not_the_listeners(engine):
    """Something else answered (another server on that address): that proves nothing about the container."""
    server = _serve(b"hello\n")
    try:
        found = probe_reach(engine, Phases(), port=server.server_address[1])
    finally:
        server.shutdown()
    assert found["works"] is False and "body 'hello\\n' (the listener says status 200" in found["detail"]
    assert engine.containers == {}


def test_without_a_base_image_nothing_is_pulled_and_nothing_passes():
    engine = FakeEngine()
    found = probe_reach(engine, Phases())
    assert found["works"] is False and found["image"] is None
    assert found["detail"].startswith("not checked: the engine holds none of slim-base/alpine:3.20, ")
    assert not any(call.startswith(("create", "pull")) for call in engine.calls)


def test_a_port_nobody_listens_on_gets_no_answer(engine, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before the probe: nothing listens there
    monkeypatch.setattr(engine, "running", lambda container: False)  # the listener died at once
    found = probe_reach(engine, Phases(), port=port)
    assert found["works"] is False and found["detail"].endswith("no answer (the container exited before the port "
                                                                "opened)")
    assert engine.containers == {}
