"""Probes against real HTTP servers on loopback (started by the test, bounded, stopped after)."""

import http.server
import threading
from typing import ClassVar

from slim.run.probes import ProbePlan, http_probes, parse_continue_after, same_origin_links, wait_until_ready

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


def test_ready_path_waits_once_for_the_whole_server_not_once_per_port():
    """Before: each closed port got its own --port-wait, so two ports waited twice as long as the help says."""
    import time
    start = time.monotonic()
    unready = wait_until_ready(ProbePlan(port_wait=2.0, ready_path="/"), "127.0.0.1", [1, 2, 3], lambda: True)
    assert unready is not None and not unready.ok and time.monotonic() - start < 4.5  # three waits took 6 s


def test_ready_path_answers_once_the_path_says_ready(site):
    assert wait_until_ready(ProbePlan(port_wait=5, ready_path="/a.html"), "127.0.0.1", [site], lambda: True) is None
    missing = wait_until_ready(ProbePlan(port_wait=1, ready_path="/nope"), "127.0.0.1", [site], lambda: True)
    assert missing is not None and missing.status == 404 and missing.detail.startswith("not ready: GET /nope answered 404")


@pytest.mark.parametrize("path", ["health", "/a b", "/x\x07", ""])
def test_a_ready_path_that_is_no_url_path_is_a_usage_error(path):
    """Before: a space or a control character was let through, and the run waited all of --port-wait."""
    from slim.cli.options import _ready_path
    with pytest.raises(UsageError):
        _ready_path(path)
