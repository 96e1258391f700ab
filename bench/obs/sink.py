#!/usr/bin/python3
"""A local OTLP/HTTP trace sink for the observability benchmark: answers every POST with
200 and an empty JSON object, and counts the requests and bytes it received (printed at
exit). It does not parse the spans.

Usage: /usr/bin/python3 bench/obs/sink.py PORT
"""
import http.server
import signal
import sys
import threading

received = {"posts": 0, "bytes": 0}
lock = threading.Lock()


class Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(n)
        with lock:
            received["posts"] += 1
            received["bytes"] += n
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


def main():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink)
    srv.daemon_threads = True

    def stop(*_):
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    srv.serve_forever()
    print("sink: %d exports, %d bytes" % (received["posts"], received["bytes"]), flush=True)


if __name__ == "__main__":
    main()
