"""Probes against real HTTP servers on loopback (started by the test, bounded, stopped after)."""

import http.server
import threading
from typing import ClassVar

from slim.run.probes import ProbePlan, http_probes, parse_continue_after, same_origin_links

import pytest
from slim.errors import UsageError


class _Site(http.server.BaseHTTPRequestHandler):
    pages: ClassVar[dict[str, bytes]] = {"/": b'<a href="/a.html">a</a> <a href="http://elsewhere/x">x</a> <img src="img.png">',
             "/a.html": b'<a href="/b.html#top">b</a>', "/b.html": b"end", "/img.png": b"PNG"}
    first_request_fails = False

    def do_GET(self):
        if _Site.first_request_fails:
            _Site.first_request_fails = False
            self.connection.close()  # an app that accepts before it can answer
            return
        body = self.pages.get(self.path.split("?")[0])
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "image/png" if self.path.endswith(".png") else "text/html")
        if self.path == "/b.html":
            self.send_header("ETag", '"1"')
        self.end_headers()
        self.wfile.write(body or b"missing")

    def log_message(self, *args):
        pass


@pytest.fixture
def site():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


def test_crawl_follows_same_origin_links_only(site):
    results = http_probes(ProbePlan(crawl=True, http_paths=("/nope",)), "127.0.0.1", [site], lambda: True)
    assert [(r.key, r.status) for r in results] == [
        (f"http :{site}/", 200), (f"http :{site}/nope", 404), (f"http :{site}/a.html", 200),
        (f"http :{site}/img.png", 200), (f"http :{site}/b.html", 200)]
    assert [r.static for r in results] == [False, False, False, False, True]


def test_a_reset_before_the_app_is_ready_is_retried(site):
    _Site.first_request_fails = True
    results = http_probes(ProbePlan(port_wait=10), "127.0.0.1", [site], lambda: True)
    assert [(r.ok, r.status) for r in results] == [(True, 200)]


def test_a_closed_port_fails_after_the_bounded_wait():
    results = http_probes(ProbePlan(port_wait=0.5), "127.0.0.1", [1], lambda: True)
    assert [(r.ok, r.detail) for r in results] == [(False, "timed out waiting for the port")]


def test_links_and_continue_after_parsing():
    assert same_origin_links("http://h:1/d/p.html", '<a href="q.html">q</a><a href="//other/x">x</a>') == ["/d/q.html"]
    assert parse_continue_after("timeout:2.5").seconds == 2.5
    for bad in ("timeout:0", "later", "timeout:x"):
        with pytest.raises(UsageError):
            parse_continue_after(bad)
