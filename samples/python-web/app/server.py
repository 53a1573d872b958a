"""Notes service: GET / (static page), GET /api/notes (JSON from sqlite), GET /api/health, and
GET /api/notes.csv (a CSV export whose modules are imported only when it is first asked for)."""

import json
import os
import sqlite3
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from notes.store import NoteStore

HERE = os.path.dirname(os.path.abspath(__file__))
STORE = NoteStore(sqlite3.connect(":memory:", check_same_thread=False))


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/":
            with open(os.path.join(HERE, "index.html"), "rb") as fh:
                return self._send(200, "text/html", fh.read())
        if self.path == "/api/notes":
            return self._send(200, "application/json", json.dumps(STORE.all()).encode())
        if self.path == "/api/health":
            return self._send(200, "application/json", b'{"ok": true}')
        if self.path == "/api/notes.csv":
            # imported here, lazily: a probe that never asks for this route never loads these modules
            from notes.export import as_csv

            return self._send(200, "text/csv", as_csv(STORE.all()).encode())
        return self._send(404, "text/plain", b"not found\n")

    def _send(self, status, ctype, body):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print("request:", self.path, flush=True)


if __name__ == "__main__":
    STORE.add("first", "slim keeps what the app uses")
    STORE.add("second", "and proves the result still works")
    print("listening on 8080", flush=True)
    ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
