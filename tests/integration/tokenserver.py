#!/usr/bin/python3
"""Docker registry token server for the integration harness.

Implements the token flow the way Docker Hub's auth service does:

    GET  /token?service=SVC&scope=repository:NAME:pull[,push][&scope=...]
    POST /token   (OAuth2 form: grant_type=password|refresh_token, service,
                   scope (space separated), username, password, client_id)

Requests may carry HTTP Basic credentials.  If they match --user/--password
the token grants what was asked for (pull, push, delete on repositories,
"*" on registry:catalog:*).  Without credentials the token grants pull only
(or the request is refused with --no-anonymous).  Wrong credentials get 401.

Tokens are JWTs signed RS256 with --sign-key (via `openssl dgst -sha256 -sign`).
The header names the signing certificate with `x5c` (default), which
docker/distribution 2.8 verifies against auth.token.rootcertbundle; with
--jwt-key-id it uses a libtrust `kid` instead, which that registry looks up
among the public keys of the same bundle.

Response: {"token", "access_token", "expires_in", "issued_at"}.

Each request is appended to --log as one JSON line:
    {"time", "method", "path", "auth": "none"|"basic", "user", "status",
     "service", "scopes", "granted"}
so tests can count token requests (e.g. `grep -c '"path": "/token' LOG`).

Usage:
    tokenserver.py --port PORT --cert server.pem --key server.key \
        --sign-key token.key --sign-cert token.pem \
        --issuer ISS [--service SVC] [--user U --password P] \
        [--no-anonymous] [--expires 300] [--jwt-key-id] \
        --log FILE --pidfile FILE

Listens on 127.0.0.1 only.  Runs until SIGTERM/SIGINT.
"""

import argparse
import base64
import binascii
import hashlib
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ALL_REPO_ACTIONS = ("pull", "push", "delete", "*")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def pem_to_der(path):
    with open(path, "rb") as f:
        text = f.read().decode("ascii")
    begin = "-----BEGIN CERTIFICATE-----"
    end = "-----END CERTIFICATE-----"
    start = text.index(begin) + len(begin)
    stop = text.index(end, start)
    return base64.b64decode("".join(text[start:stop].split()))


def libtrust_key_id(cert_path):
    """libtrust key ID: base32(sha256(DER SubjectPublicKeyInfo)[:30]) in 4-char groups."""
    spki = subprocess.run(
        ["openssl", "x509", "-in", cert_path, "-noout", "-pubkey"],
        check=True, capture_output=True).stdout
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "DER"],
        input=spki, check=True, capture_output=True).stdout
    digest = hashlib.sha256(der).digest()[:30]
    b32 = base64.b32encode(digest).decode("ascii").rstrip("=")
    return ":".join(b32[i:i + 4] for i in range(0, len(b32), 4))


class Signer:
    def __init__(self, key_path, cert_path, use_kid):
        self.key_path = key_path
        if use_kid:
            self.header = {"typ": "JWT", "alg": "RS256", "kid": libtrust_key_id(cert_path)}
        else:
            cert_b64 = base64.b64encode(pem_to_der(cert_path)).decode("ascii")
            self.header = {"typ": "JWT", "alg": "RS256", "x5c": [cert_b64]}

    def sign(self, claims):
        signing_input = (b64url(json.dumps(self.header, separators=(",", ":")).encode())
                         + "." + b64url(json.dumps(claims, separators=(",", ":")).encode()))
        sig = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", self.key_path],
            input=signing_input.encode("ascii"), check=True, capture_output=True).stdout
        return signing_input + "." + b64url(sig)


def parse_scope(scope):
    """'repository:name/with:colon?:pull,push' -> (type, name, [actions]).

    The name may itself contain ':' (registry host with port in some
    clients), so split type off the front and actions off the back."""
    first = scope.find(":")
    last = scope.rfind(":")
    if first < 0 or last <= first:
        return None
    rtype = scope[:first]
    name = scope[first + 1:last]
    actions = [a for a in scope[last + 1:].split(",") if a]
    if not rtype or not name:
        return None
    return rtype, name, actions


class TokenHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "boardpin-test-tokenserver/1"

    def log_message(self, fmt, *args):  # keep stderr quiet; we keep our own log
        pass

    def _send_json(self, status, obj, extra_headers=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra_headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _record(self, status, auth, user, service, scopes, granted):
        entry = {
            "time": round(time.time(), 3),
            "method": self.command,
            "path": self.path,
            "auth": auth,
            "user": user,
            "status": status,
            "service": service,
            "scopes": scopes,
            "granted": granted,
        }
        cfg = self.server.cfg
        with cfg["log_lock"]:
            with open(cfg["log"], "a") as f:
                f.write(json.dumps(entry) + "\n")

    def _basic_auth(self):
        """Returns (kind, user, ok)."""
        hdr = self.headers.get("Authorization")
        if not hdr:
            return "none", "", True
        parts = hdr.split(None, 1)
        if len(parts) != 2 or parts[0].lower() != "basic":
            return "other", "", False
        try:
            user, _, password = base64.b64decode(parts[1], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return "basic", "", False
        cfg = self.server.cfg
        ok = cfg["user"] is not None and user == cfg["user"] and password == cfg["password"]
        return "basic", user, ok

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/healthz":
            self._send_json(200, {"ok": True})
            return
        if url.path != "/token":
            self._send_json(404, {"errors": [{"code": "NOT_FOUND", "message": "no such endpoint"}]})
            return
        q = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        service = (q.get("service") or [""])[0]
        scopes = q.get("scope", [])
        # Some clients send several scopes space-separated in one parameter.
        scopes = [s for item in scopes for s in item.split(" ") if s]
        auth, user, ok = self._basic_auth()
        self._issue(auth, user, ok, service, scopes, oauth=False)

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/token":
            self._send_json(404, {"errors": [{"code": "NOT_FOUND", "message": "no such endpoint"}]})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > 65536:
            self._send_json(413, {"error": "request too large"})
            return
        form = urllib.parse.parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
        service = (form.get("service") or [""])[0]
        scopes = [s for item in form.get("scope", []) for s in item.split(" ") if s]
        grant = (form.get("grant_type") or [""])[0]
        cfg = self.server.cfg
        if grant == "password":
            user = (form.get("username") or [""])[0]
            password = (form.get("password") or [""])[0]
            ok = cfg["user"] is not None and user == cfg["user"] and password == cfg["password"]
            self._issue("password", user, ok, service, scopes, oauth=True)
        elif grant == "refresh_token":
            token = (form.get("refresh_token") or [""])[0]
            user = cfg["refresh"].get(token)
            self._issue("refresh_token", user or "", user is not None, service, scopes, oauth=True)
        else:
            self._record(400, "none", "", service, scopes, [])
            self._send_json(400, {"error": "unsupported_grant_type"})

    def _issue(self, auth, user, ok, service, scopes, oauth):
        cfg = self.server.cfg
        if not ok:
            self._record(401, auth, user, service, scopes, [])
            self._send_json(401, {"details": "incorrect username or password"},
                            [("WWW-Authenticate", 'Basic realm="boardpin-test-token"')])
            return
        anonymous = auth == "none"
        if anonymous and not cfg["anonymous"]:
            self._record(401, auth, user, service, scopes, [])
            self._send_json(401, {"details": "authentication required"},
                            [("WWW-Authenticate", 'Basic realm="boardpin-test-token"')])
            return
        if cfg["service"] and service and service != cfg["service"]:
            self._record(400, auth, user, service, scopes, [])
            self._send_json(400, {"details": "unknown service %r" % service})
            return
        access = []
        for s in scopes:
            parsed = parse_scope(s)
            if parsed is None:
                continue
            rtype, name, actions = parsed
            if rtype == "repository":
                allowed = ("pull",) if anonymous else ALL_REPO_ACTIONS
            elif rtype == "registry" and name == "catalog" and not anonymous:
                allowed = ("*",)
            else:
                allowed = ()
            granted = [a for a in actions if a in allowed]
            access.append({"type": rtype, "name": name, "actions": granted})
        now = int(time.time())
        claims = {
            "iss": cfg["issuer"],
            "sub": "" if anonymous else user,
            "aud": service or cfg["service"] or "",
            "exp": now + cfg["expires"],
            "nbf": now - 1,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        token = cfg["signer"].sign(claims)
        issued_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        body = {"token": token, "access_token": token,
                "expires_in": cfg["expires"], "issued_at": issued_at}
        if oauth and not anonymous:
            refresh = uuid.uuid4().hex
            cfg["refresh"][refresh] = user
            body["refresh_token"] = refresh
        self._record(200, auth, user, service, scopes, access)
        self._send_json(200, body)


class TLSThreadingHTTPServer(ThreadingHTTPServer):
    """TLS handshake happens in the per-connection thread, so a client that
    connects and stays silent cannot block the accept loop."""
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, handler, ctx):
        self.ssl_ctx = ctx
        super().__init__(addr, handler)

    def finish_request(self, request, client_address):
        request.settimeout(30)
        conn = request
        if self.ssl_ctx is not None:
            try:
                conn = self.ssl_ctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        try:
            super().finish_request(conn, client_address)
        except (ConnectionError, TimeoutError, ssl.SSLError):
            pass
        finally:
            if conn is not request:
                try:
                    conn.close()
                except OSError:
                    pass

    def handle_error(self, request, client_address):
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert", required=True, help="TLS server certificate (PEM)")
    ap.add_argument("--key", required=True, help="TLS server key (PEM)")
    ap.add_argument("--sign-key", required=True, help="RSA key that signs tokens")
    ap.add_argument("--sign-cert", required=True, help="certificate of --sign-key")
    ap.add_argument("--issuer", required=True)
    ap.add_argument("--service", default="", help="expected service (empty: any)")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--no-anonymous", action="store_true",
                    help="refuse tokens to requests without credentials")
    ap.add_argument("--expires", type=int, default=300)
    ap.add_argument("--jwt-key-id", action="store_true",
                    help="use a libtrust 'kid' header instead of 'x5c'")
    ap.add_argument("--log", required=True)
    ap.add_argument("--pidfile", required=True)
    args = ap.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)

    httpd = TLSThreadingHTTPServer(("127.0.0.1", args.port), TokenHandler, ctx)
    httpd.cfg = {
        "issuer": args.issuer,
        "service": args.service,
        "user": args.user,
        "password": args.password,
        "anonymous": not args.no_anonymous,
        "expires": args.expires,
        "signer": Signer(args.sign_key, args.sign_cert, args.jwt_key_id),
        "log": args.log,
        "log_lock": threading.Lock(),
        "refresh": {},
    }
    open(args.log, "a").close()

    def stop(signum, frame):
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    with open(args.pidfile, "w") as f:
        f.write("%d\n" % os.getpid())
    print("tokenserver: listening on https://127.0.0.1:%d" % args.port, flush=True)
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        httpd.server_close()
        try:
            os.unlink(args.pidfile)
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
