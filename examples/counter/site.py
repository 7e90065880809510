"""A tiny site that counts its visits: the kind of demo Locust's quickstart loads.

    python examples/counter/site.py [--port 8080] [--work-ms 3]

``GET /`` counts a visit and answers how many there were; ``--work-ms`` is the time each
visit takes to serve (a stand-in for real work), so a slower build of the site is one
option away. Listens on 127.0.0.1 only.
"""

import argparse
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Counter(BaseHTTPRequestHandler):
    visits = 0
    lock = threading.Lock()
    work_seconds = 0.003

    def do_GET(self) -> None:
        if self.path != "/":
            self.send_error(404)
            return
        time.sleep(self.work_seconds)
        with self.lock:
            Counter.visits += 1
            body = f"visits: {Counter.visits}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: a load test makes thousands of visits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--work-ms", type=float, default=3.0)
    args = parser.parse_args()
    Counter.work_seconds = args.work_ms / 1000
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Counter)
    print(f"counter site on http://127.0.0.1:{args.port}/ (Ctrl-C stops it)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
