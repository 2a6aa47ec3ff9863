"""notifyreceiver.py: a notification receiver on loopback for test-notify.py. It records every request
(method, path, headers, body) and answers as told: 200, another status, or never (a receiver that hangs).
Over TLS with the harness's certificate when given one, as ntfy or a webhook behind a proxy would be.

    r = Receiver(cert=..., key=...)       # port 0: a free one; r.port says which
    r.answer = 200 | 500 | None           # None: read the request, never answer
    r.requests                            # list of dicts: method, path, headers (lower-case keys), body
    r.stop()
"""
import http.server, ssl, threading


class Receiver:
    def __init__(self, port=0, cert=None, key=None):
        self.requests = []
        self.answer = 200
        self.release = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                outer.requests.append({"method": "POST", "path": self.path,
                                       "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                if outer.answer is None:
                    outer.release.wait(60)
                    return
                data = b'{"id":"x"}\n'
                self.send_response(outer.answer)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_PUT = do_POST

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        if cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
