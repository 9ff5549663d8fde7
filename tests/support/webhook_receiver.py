#!/usr/bin/python3
"""Record webhook POSTs for tests.

Listens on 127.0.0.1 and prints the chosen port as the first line of stdout.
Each POST is appended to RECORD_FILE as one JSON line with its method, path,
headers and body (UTF-8 text, or base64 in "body_base64" when it is not UTF-8).
The response status comes from --status: a comma-separated list is used in
order, one status per request, and its last entry repeats. SIGTERM stops the
server with exit status 0.

Usage: webhook_receiver.py RECORD_FILE [--port N] [--status 503,200]
"""

import argparse
import base64
import http.server
import json
import signal
import sys
import threading


def parse_statuses(text):
    statuses = [int(item) for item in text.split(",") if item.strip()]
    if not statuses:
        raise argparse.ArgumentTypeError(f"invalid --status {text!r}: give HTTP status codes such as 200 or 503,200")
    return statuses


def make_handler(record_file, statuses):
    lock = threading.Lock()
    count = [0]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            entry = {
                "method": self.command,
                "path": self.path,
                "headers": {name.lower(): value for name, value in self.headers.items()},
            }
            try:
                entry["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                entry["body_base64"] = base64.b64encode(body).decode("ascii")
            with lock:
                status = statuses[min(count[0], len(statuses) - 1)]
                count[0] += 1
                with open(record_file, "a", encoding="utf-8") as file:
                    file.write(json.dumps(entry) + "\n")
            reply = json.dumps({"status": status}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format, *args):
            pass  # keep test output clean

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("record_file")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1; 0 picks a free one")
    parser.add_argument("--status", type=parse_statuses, default=[200],
                        help="response statuses in order, comma-separated; the last repeats (default 200)")
    args = parser.parse_args()

    server = http.server.HTTPServer(("127.0.0.1", args.port), make_handler(args.record_file, args.status))

    def stop(signum, frame):
        # serve_forever() must be stopped from another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    print(server.server_address[1], flush=True)
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
