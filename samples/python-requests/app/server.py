"""Link checker service: GET /api/health, and GET /api/fetch-self, which imports requests on first use (the
probes never ask for it) and fetches the service's own /api/health through it, over 127.0.0.1 only."""

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = 8080


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/api/health":
            return self._send(200, b'{"ok": true}')
        if self.path == "/api/fetch-self":
            # imported here, lazily: requests -> urllib3 -> six.moves (queue, http.client) load only now
            import requests

            prepared = requests.Request("GET", "http://example.invalid/a b", params={"q": "x y"}).prepare()
            with requests.Session() as session:
                answer = session.get(f"http://127.0.0.1:{PORT}/api/health", timeout=5)
            body = {"prepared": prepared.url, "quoted": requests.utils.quote("a b/c"),
                    "self": answer.json(), "status": answer.status_code}
            return self._send(200, json.dumps(body, sort_keys=True).encode())
        return self._send(404, b'{"error": "not found"}')

    def _send(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print("request:", self.path, flush=True)


if __name__ == "__main__":
    print(f"listening on {PORT}", flush=True)
    ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()
