"""The registry client's credentials: the Docker config's `auths` entry, sent as Basic auth or traded for a
bearer token the way registries ask for it (WWW-Authenticate), against a small HTTP server on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from slim.errors import RegistryError
from slim.sign.registry import Registry

MANIFEST = b'{"schemaVersion":2}'


class _Handler(BaseHTTPRequestHandler):
    seen: ClassVar[list] = []

    def log_message(self, *args) -> None:  # quiet: the test reads what happened from `seen`
        pass

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization", "")
        self.seen.append((self.path, auth))
        if self.path.startswith("/token"):
            ok = auth == "Basic " + base64.b64encode(b"alice:secret").decode()
            self._answer(200 if ok else 401, json.dumps({"token": "T0KEN"}).encode() if ok else b"{}")
        elif auth == "Bearer T0KEN":
            self._answer(200, MANIFEST)
        else:
            port = self.server.server_address[1]
            self._answer(401, b"{}", {"WWW-Authenticate": f'Bearer realm="http://127.0.0.1:{port}/token",'
                                                          'service="test",scope="repository:a/b:pull"'})

    def _answer(self, status: int, body: bytes, headers=None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server():
    _Handler.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _docker_config(tmp_path, monkeypatch, host: str, user_password: bytes | None) -> None:
    auths = {host: {"auth": base64.b64encode(user_password).decode()}} if user_password else {}
    (tmp_path / "config.json").write_text(json.dumps({"auths": auths}))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))


def test_a_bearer_challenge_is_answered_with_a_token_got_with_the_docker_config_credentials(server, tmp_path,
                                                                                            monkeypatch):
    _docker_config(tmp_path, monkeypatch, server, b"alice:secret")
    registry = Registry(server)
    try:
        body, _, digest = registry.manifest("a/b", "1")
    finally:
        registry.close()
    assert body == MANIFEST and digest.startswith("sha256:")
    paths = [path for path, _ in _Handler.seen]
    assert paths[0] == "/v2/a/b/manifests/1" and paths[1].startswith("/token?")
    assert "scope=repository%3Aa%2Fb%3Apull%2Cpush" in paths[1] and "service=test" in paths[1]
    assert _Handler.seen[-1] == ("/v2/a/b/manifests/1", "Bearer T0KEN")


def test_wrong_credentials_are_a_registry_error(server, tmp_path, monkeypatch):
    _docker_config(tmp_path, monkeypatch, server, b"alice:wrong")
    registry = Registry(server)
    try:
        with pytest.raises(RegistryError, match="no token"):
            registry.manifest("a/b", "1")
    finally:
        registry.close()
