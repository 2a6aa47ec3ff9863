#!/usr/bin/python3
"""Fault-injecting registry for the integration tests.

Serves a small, valid, deterministic set of images under /v2/ and breaks the
responses in a way chosen by the repository name:

    /v2/fault/<mode>/manifests/<tag-or-digest>      (GET, HEAD)
    /v2/fault/<mode>/blobs/<digest>                 (GET, HEAD)
    /v2/fault/<mode>/tags/list                      (GET)

A repository may have more path segments after the mode (fault/ok/app7): the
same content under another name, for many services against one server.
Any tag name resolves to the mode's top-level document (normally an OCI
index for linux/amd64, linux/arm/v6, linux/arm/v7, linux/arm64/v8); digests
resolve to that index, its child manifests, configs and layers.

Modes (the <mode> path segment):
  ok            no fault, no auth; the baseline
  tampered      Docker-Content-Digest does not match the body (by tag: header
                names another manifest; by digest: header is the requested
                digest, body is altered).  Blobs are altered too.
  nodigest      no Docker-Content-Digest header
  oversize      tag answers a 5 MiB index (valid JSON, correct digest)
  oversizechunked  the same body, chunked, without Content-Length
  truncated     Content-Length larger than the body, then the connection closes
  reset         half the body, then the connection is reset (RST)
  stall         headers and a few bytes, then silence for --stall-seconds
                (default 60), then close
  flaky5xx      500, 502, 503 for the first three requests of each path, then OK
  ratelimit     429 with Retry-After: 1 on the first request of each path, then OK
  always401     401 with a valid Bearer challenge whose realm hands out tokens,
                but the resource still answers 401 with the token
  badchallenge  401 with a malformed WWW-Authenticate; the tag selects which:
                  unterminated (default), norealm, garbage, empty,
                  unknownscheme, ftprealm, relativerealm
  tokenhtml     401 Bearer challenge; the token endpoint answers text/html
  tokenbadjson  401 Bearer challenge; the token endpoint answers broken JSON
  wrongtypes    index whose schemaVersion is a string and manifests an object
  deepnest      JSON nested 100000 levels deep
  hugenum       index entry with "size": 1e400
  nocompat      valid index with only linux/s390x and linux/ppc64le
  redirect      401 Bearer challenge (token endpoint works); with any
                Authorization, 302 to SCHEME://localhost:OTHERPORT/<same path>,
                a second listener that serves the content without auth and
                records whether an Authorization header arrived
  redirectbasic the same with a Basic challenge (any user/password accepted)
  novariant     the tag is a single image manifest for linux/arm whose config
                names no variant (an "-armv6" per-arch tag as some publishers push)
  jitter        every request answered after a random 0-400 ms, so answers to
                requests sent together come back out of order
  trickle       GET of a manifest: headers, then one byte of the body a second
  ratelimitlong 429 with Retry-After: 20 on every request
  bearer        401 Bearer challenge naming the repository's own scope; with any
                Authorization, served; the token endpoint records each request's
                scopes (GET /_tokens)
  tohttp        (TLS listener) 401 Basic challenge; with Authorization, 302 to
                http://127.0.0.1:PLAINPORT/<same path>: the same host over plain HTTP
  redirect401   401 Basic challenge; with Authorization, 302 to the second listener,
                which answers 401 with its own Bearer realm="http://127.0.0.1:PORT/token"
  evil          registry bytes meant for a terminal: tag "digest" sends a
                Docker-Content-Digest with escape sequences, tag "type" an index
                whose mediaType holds escapes and a forged "\nboardpin: " line
  paged         tags/list of 60 tags served at most 10 per page, whatever ?n= asks
                with a Link: <...?n=N&last=TAG>; rel="next" header, the way
                the OCI distribution spec paginates (Debian's registry 2.8
                ignores n/last on tags/list)
  bigsig        cosign's signature tag sha256-HEX.sig is a manifest whose one
                simple-signing layer is a 100 MiB blob, and says so in its size;
                the referrers tag sha256-HEX is 404; the blob is streamed (zeros)
                and its request log line says how many bytes were "sent"
  bigsiglie     the same, but the layer's descriptor claims 241 bytes (the size
                of a real payload) for the 100 MiB blob

Faults apply to GET of manifests and blobs; HEAD gets honest headers except in
tampered, nodigest, flaky5xx, ratelimit and the auth modes.

Control endpoints (on both listeners):
  GET /_reset       clear per-path counters and the redirect records
  GET /_seen_auth   {"requests": N, "with_auth": N, "seen": bool, "log": [...]}
                    about requests that reached the second listener
  GET /_requests    every request since the last reset (both listeners)
  GET /_digests     {"index": digest, "children": {platform: digest}, ...}
  GET /_connections {"main": N, "other": N}: TCP connections accepted since the last reset
  GET /_tokens      [{"scopes": [...], "auth": bool}, ...] token requests since the last reset
  GET /token[...]   token endpoint used by the Bearer challenges

Mirror role (--mirror-of URL): every /v2/ path outside /v2/fault/ is a pull-through
cache of the registry at URL, as a registry in proxy mode is: GET and HEAD of
manifests, blobs and tag lists are asked of URL (with --mirror-upstream-auth
USER:PASSWORD as Basic credentials, --mirror-ca for its TLS) and answered with its
status, Content-Type, Docker-Content-Digest, Link and body, except as
--mirror-fault says:
  none          as the registry answered
  tamper        GET of a manifest by tag: one byte of the body changed, the
                registry's Docker-Content-Digest kept
  swap:REPO:TAG a manifest by tag (GET and HEAD) is the registry's REPO:TAG, with
                its own, matching digest: an index of the mirror's own making
  hidetag:TAG   tag lists without TAG, as a stale cache that has not seen it yet
  hidesig       404 for every signature tag (cosign's sha256-HEX.sig and the referrers
                tag sha256-HEX), as a cache that never stored them
  swapsig:REPO:TAG  a signature tag sha256-HEX.sig (GET and HEAD) is the registry's
                REPO:TAG, a signature made for another digest, with its own digest
  referrers     the mirror has the referrers API (OCI distribution 1.1), which Debian's
                registry lacks: GET /v2/NAME/referrers/DIGEST answers 200 with the image
                index at the registry's referrers tag sha256-HEX, or an empty index
                when there is none
--mirror-login USER:PASSWORD makes the mirror ask for Basic credentials (401
with a Basic challenge) and serve only with exactly those.  Every request is
logged with its Authorization (scheme, and the Basic user name) as any is.

Usage:
  faultserver.py --port PORT [--other-port PORT2] [--other-host localhost]
                 [--tls-cert server.pem --tls-key server.key]
                 [--stall-seconds 60] [--oversize-bytes 5242880]
                 [--mirror-of URL [--mirror-ca FILE] [--mirror-upstream-auth USER:PASSWORD]
                  [--mirror-fault none|tamper|swap:REPO:TAG|hidetag:TAG|hidesig|swapsig:REPO:TAG|referrers]
                 [--mirror-login USER:PASSWORD]]
                 --log FILE [--pidfile FILE]

Listens on 127.0.0.1 only.  With --tls-cert both listeners use TLS.  Each
request is logged to --log as one JSON line {time, listener, port, method,
path, mode, auth, status}; several servers may share one log file.
"""

import argparse
import base64
import gzip
import http.client
import hashlib
import io
import json
import os
import random
import re
import signal
import socket
import ssl
import struct
import sys
import tarfile
import threading
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
FIXED_TIME = 1577836800  # 2020-01-01T00:00:00Z

MODES = {
    "ok", "tampered", "nodigest", "oversize", "oversizechunked", "truncated",
    "reset", "stall", "flaky5xx", "ratelimit", "always401", "badchallenge",
    "tokenhtml", "tokenbadjson", "wrongtypes", "deepnest", "hugenum",
    "nocompat", "redirect", "redirectbasic", "paged",
    "novariant", "jitter", "trickle", "ratelimitlong", "bearer", "tohttp", "redirect401", "evil",
    "bigsig", "bigsiglie",
}
PAGED_TAGS = sorted(["1.%d.%d" % (minor, patch) for minor in range(10) for patch in range(5)]
                    + ["2.0.0-rc.%d" % i for i in range(1, 6)]
                    + ["latest", "stable", "edge", "v2.0.0", "2.0.0"])
AUTH_MODES = {"always401", "badchallenge", "tokenhtml", "tokenbadjson"}
STREAM_FAULTS = {"truncated", "reset", "stall"}

# Cosign's tags: the classic signature of a digest, and the referrers tag of registries without the API.
SIG_TAG_RE = re.compile(r"^sha256-[0-9a-f]{64}\.sig$")
REFERRERS_TAG_RE = re.compile(r"^sha256-[0-9a-f]{64}$")
SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
BIGSIG_BYTES = 100 * 1024 * 1024
BIGSIG_CHUNK = 64 * 1024
# A DER ECDSA signature as cosign writes it (tests/fixtures/signatures/classic-index): well formed, so
# only the blob's size can be what stops a client.
BIGSIG_SIGNATURE = ("MEUCIQCXgMbakvCEeT2AbXiSglO2POVPsLM+XbFtYSGNgLp3yAIgbyHI7leIS8hEgqVv/rBX5SsI37pX/5p+3q8ozGVanTg=")
_bigsig_digest = []


def bigsig_digest():
    """The digest of BIGSIG_BYTES zeros, worked out once (a third of a second) when first asked."""
    if not _bigsig_digest:
        h = hashlib.sha256()
        zeros = bytes(1024 * 1024)
        for _ in range(BIGSIG_BYTES // len(zeros)):
            h.update(zeros)
        _bigsig_digest.append("sha256:" + h.hexdigest())
    return _bigsig_digest[0]


def bigsig_manifest(claimed_size):
    """Cosign's .sig manifest shape, its one layer the big blob, claimed_size its descriptor's size."""
    config = b"{}"
    return json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "size": len(config), "digest": sha256(config)},
        "layers": [{"mediaType": SIMPLESIGNING, "size": claimed_size, "digest": bigsig_digest(),
                    "annotations": {"dev.cosignproject.cosign/signature": BIGSIG_SIGNATURE}}],
    }, separators=(",", ":")).encode()


PATH_RE = re.compile(r"^/v2/fault/([a-z0-9]+)((?:/[a-z0-9][a-z0-9._-]*)*)/(manifests|blobs|tags)/(.+)$")


def basic_user(authorization):
    """The user name of a Basic Authorization header, "" for anything else."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return ""
    try:
        return base64.b64decode(value.strip()).decode("utf-8", "replace").partition(":")[0]
    except ValueError:
        return "?"


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def dumps(obj):
    return json.dumps(obj, indent=2, sort_keys=False).encode()


class Store:
    """Deterministic image content, built once at start-up."""

    def __init__(self, oversize_bytes):
        self.blobs = {}        # digest -> bytes
        self.manifests = {}    # digest -> (media type, bytes)
        self.children = {}     # platform string -> digest
        self.index = self._index([
            ("linux", "amd64", None), ("linux", "arm", "v6"),
            ("linux", "arm", "v7"), ("linux", "arm64", "v8")])
        self.nocompat = self._index([("linux", "s390x", None), ("linux", "ppc64le", None)])
        self.novariant, _ = self._child("linux", "arm", None)
        idx = json.loads(self.manifests[self.index][1])

        # Variants of the top-level document.
        big = dict(idx)
        pad = oversize_bytes - len(dumps(idx)) - 64
        big["annotations"] = {"org.example.padding": "x" * max(pad, 0)}
        self.oversize = self._add_manifest(OCI_INDEX, dumps(big), register=False)

        wrong = {"schemaVersion": "2", "mediaType": OCI_INDEX,
                 "manifests": {"0": idx["manifests"][0]}}
        self.wrongtypes = self._add_manifest(OCI_INDEX, dumps(wrong), register=False)

        depth = 100000
        self.deepnest = self._add_manifest(
            OCI_INDEX, b'{"schemaVersion":2,"manifests":' + b"[" * depth + b"]" * depth + b"}",
            register=False)

        huge = (b'{"schemaVersion":2,"mediaType":"' + OCI_INDEX.encode() + b'","manifests":[{'
                b'"mediaType":"' + OCI_MANIFEST.encode() + b'","digest":"'
                + idx["manifests"][0]["digest"].encode() + b'","size":1e400,'
                b'"platform":{"architecture":"amd64","os":"linux"}}]}')
        self.hugenum = self._add_manifest(OCI_INDEX, huge, register=False)

    def _layer(self, text):
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            data = text.encode()
            info = tarfile.TarInfo("fault.txt")
            info.size = len(data)
            info.mtime = FIXED_TIME
            info.mode = 0o644
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
        raw = raw.getvalue()
        gz = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=gz, mtime=0) as g:
            g.write(raw)
        return raw, gz.getvalue()

    def _add_blob(self, data):
        d = sha256(data)
        self.blobs[d] = data
        return d

    def _add_manifest(self, media_type, data, register=True):
        d = sha256(data)
        self.manifests[d] = (media_type, data)
        return d

    def _child(self, os_, arch, variant):
        plat = "/".join(p for p in (os_, arch, variant) if p)
        raw, gz = self._layer("faultserver image for %s\n" % plat)
        layer_d = self._add_blob(gz)
        config = {"architecture": arch, "os": os_}
        if variant:
            config["variant"] = variant
        config.update({
            "created": "2020-01-01T00:00:00Z",
            "config": {"Cmd": ["/bin/true"]},
            "rootfs": {"type": "layers", "diff_ids": [sha256(raw)]},
            "history": [{"created": "2020-01-01T00:00:00Z", "created_by": "faultserver"}],
        })
        cfg = dumps(config)
        cfg_d = self._add_blob(cfg)
        man = dumps({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": cfg_d, "size": len(cfg)},
            "layers": [{"mediaType": OCI_LAYER, "digest": layer_d, "size": len(gz)}],
        })
        d = self._add_manifest(OCI_MANIFEST, man)
        self.children[plat] = d
        return d, len(man)

    def _index(self, platforms):
        entries = []
        for os_, arch, variant in platforms:
            d, size = self._child(os_, arch, variant)
            plat = {"architecture": arch, "os": os_}
            if variant:
                plat["variant"] = variant
            entries.append({"mediaType": OCI_MANIFEST, "digest": d, "size": size, "platform": plat})
        return self._add_manifest(OCI_INDEX, dumps(
            {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}))

    def top_for(self, mode):
        return {
            "oversize": self.oversize, "oversizechunked": self.oversize,
            "wrongtypes": self.wrongtypes, "deepnest": self.deepnest,
            "hugenum": self.hugenum, "nocompat": self.nocompat, "novariant": self.novariant,
        }.get(mode, self.index)


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.counters = {}
        self.requests = []
        self.other = []
        self.tokens = 0
        self.token_log = []
        self.connections = {"main": 0, "other": 0}

    def bump(self, key):
        with self.lock:
            n = self.counters.get(key, 0) + 1
            self.counters[key] = n
            return n

    def reset(self):
        with self.lock:
            self.counters.clear()
            self.requests.clear()
            self.other.clear()
            self.token_log.clear()
            self.connections = {"main": 0, "other": 0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "boardpin-test-faultserver/1"

    def log_message(self, fmt, *args):
        pass

    # ---- helpers ---------------------------------------------------------
    @property
    def cfg(self):
        return self.server.cfg

    def _log(self, status, mode="", extra=None):
        entry = {"time": round(time.time(), 3), "listener": self.server.role,
                 "port": self.server.server_address[1],
                 "method": self.command, "path": self.path, "mode": mode,
                 "auth": bool(self.headers.get("Authorization")),
                 "auth_scheme": (self.headers.get("Authorization") or "").partition(" ")[0],
                 "auth_user": basic_user(self.headers.get("Authorization")),
                 "user_agent": self.headers.get("User-Agent") or "",
                 "status": status}
        entry.update(extra or {})
        st = self.cfg["state"]
        with st.lock:
            if len(st.requests) < 10000:
                st.requests.append(entry)
            with open(self.cfg["log"], "a") as f:
                f.write(json.dumps(entry) + "\n")

    def _send(self, status, body=b"", ctype="application/json", headers=(), mode="",
              length=None, send_body=True):
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if send_body and self.command != "HEAD":
            self.wfile.write(body)
        self._log(status, mode)

    def _error(self, status, code, message, mode="", headers=()):
        body = json.dumps({"errors": [{"code": code, "message": message, "detail": None}]}).encode()
        self._send(status, body, headers=headers, mode=mode)

    def _base(self, other=False):
        scheme = "https" if self.cfg["tls"] else "http"
        if other:
            return "%s://%s:%d" % (scheme, self.cfg["other_host"], self.cfg["other_port"])
        return "%s://127.0.0.1:%d" % (scheme, self.cfg["port"])

    def _challenge(self, mode, realm_suffix="/token"):
        return ('Bearer realm="%s%s",service="faultserver",scope="repository:fault/%s:pull"'
                % (self._base(), realm_suffix, mode))

    def _stream_zeros(self, mode):
        """BIGSIG_BYTES zeros with an honest Content-Length, until the client hangs up; the log line
        says how many bytes were written (the kernel's socket buffers hold a few MiB of them)."""
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(BIGSIG_BYTES))
        self.send_header("Docker-Content-Digest", bigsig_digest())
        self.end_headers()
        sent = 0
        if self.command != "HEAD":
            zeros = bytes(BIGSIG_CHUNK)
            try:
                while sent < BIGSIG_BYTES:
                    self.wfile.write(zeros)
                    sent += len(zeros)
                self.wfile.flush()
            except OSError:
                self.close_connection = True
        self._log(200, mode, {"sent": sent})
        return None

    def _abort_with_reset(self):
        try:
            self.wfile.flush()
        except OSError:
            pass
        # Let the client read the headers and the partial body first: an RST
        # that overtakes them makes the kernel drop unread data.
        time.sleep(0.3)
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass
        self.close_connection = True
        raise ConnectionAbortedError("reset injected")

    # ---- dispatch --------------------------------------------------------
    def do_HEAD(self):
        self._dispatch()

    def do_GET(self):
        self._dispatch()

    def _dispatch(self):
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        st = self.cfg["state"]
        if path == "/_reset":
            st.reset()
            return self._send(200, b'{"reset":true}')
        if path == "/_seen_auth":
            with st.lock:
                log = list(st.other)
            body = {"requests": len(log), "with_auth": sum(1 for e in log if e["auth"]),
                    "seen": any(e["auth"] for e in log), "log": log}
            return self._send(200, json.dumps(body).encode())
        if path == "/_requests":
            with st.lock:
                body = json.dumps(list(st.requests)).encode()
            return self._send(200, body)
        if path == "/_digests":
            s = self.cfg["store"]
            body = {"index": s.index, "nocompat": s.nocompat, "oversize": s.oversize,
                    "wrongtypes": s.wrongtypes, "deepnest": s.deepnest,
                    "hugenum": s.hugenum, "children": s.children}
            return self._send(200, json.dumps(body).encode())
        if path == "/_connections":
            with st.lock:
                body = json.dumps(st.connections).encode()
            return self._send(200, body)
        if path == "/_tokens":
            with st.lock:
                body = json.dumps(list(st.token_log)).encode()
            return self._send(200, body)
        if path.startswith("/token"):
            return self._token(path, url.query)
        if self.cfg["mirror_of"] and path.startswith("/v2/") and not path.startswith("/v2/fault/"):
            return self._mirror()
        if path in ("/v2", "/v2/"):
            return self._send(200, b"{}")

        m = PATH_RE.match(path)
        if not m or m.group(1) not in MODES:
            return self._error(404, "NAME_UNKNOWN", "repository name not known to registry")
        mode, extra, kind, ref = m.groups()
        repo = "fault/" + mode + extra

        if self.server.role == "other" and mode == "redirect401":
            with st.lock:
                st.other.append({"method": self.command, "path": self.path,
                                 "auth": bool(self.headers.get("Authorization")),
                                 "authorization_scheme":
                                     (self.headers.get("Authorization") or "").partition(" ")[0]})
            challenge = ('Bearer realm="http://127.0.0.1:%d/token",service="cdn",scope="repository:%s:pull"'
                         % (self.cfg["port"], repo))
            return self._error(401, "UNAUTHORIZED", "the CDN wants its own token", mode,
                               headers=[("WWW-Authenticate", challenge)])
        if self.server.role == "other":
            with st.lock:
                st.other.append({"method": self.command, "path": self.path,
                                 "auth": bool(self.headers.get("Authorization")),
                                 "authorization_scheme":
                                     (self.headers.get("Authorization") or "").partition(" ")[0]})
            return self._serve(mode, kind, ref, honest=True, query=url.query)

        # Per-path counters (any method) for the retry modes.
        if mode == "flaky5xx":
            n = st.bump(path)
            if n <= 3:
                status = (500, 502, 503)[n - 1]
                return self._error(status, "UNKNOWN", "injected %d (request %d)" % (status, n), mode)
        if mode == "ratelimit":
            n = st.bump(path)
            if n == 1:
                return self._error(429, "TOOMANYREQUESTS", "injected rate limit", mode,
                                   headers=[("Retry-After", "1")])

        if mode == "ratelimitlong":
            return self._error(429, "TOOMANYREQUESTS", "injected rate limit", mode,
                               headers=[("Retry-After", "20")])
        if mode == "evil" and kind == "manifests" and not ref.startswith("sha256:"):
            if ref == "type":
                body = dumps({"schemaVersion": 2,
                              "mediaType": "application/x\u001b[2J\u001b]0;pwned\u0007\nboardpin: all good",
                              "manifests": []})
                return self._send(200, body, ctype="", headers=[("Docker-Content-Digest", sha256(body))],
                                  mode=mode)
            body = self.cfg["store"].manifests[self.cfg["store"].index][1]
            return self._send(200, body, ctype=OCI_INDEX, mode=mode,
                              headers=[("Docker-Content-Digest", "sha256:\x1b[31mforged\x1b]0;pwned\x07")])
        if mode in ("bigsig", "bigsiglie"):
            if kind == "manifests" and SIG_TAG_RE.match(ref):
                body = bigsig_manifest(BIGSIG_BYTES if mode == "bigsig" else 241)
                return self._send(200, body, ctype=OCI_MANIFEST, mode=mode,
                                  headers=[("Docker-Content-Digest", sha256(body))])
            if kind == "manifests" and REFERRERS_TAG_RE.match(ref):
                return self._error(404, "MANIFEST_UNKNOWN", "manifest unknown", mode)
            if kind == "blobs" and ref == bigsig_digest():
                return self._stream_zeros(mode)
        if mode == "jitter":
            time.sleep(random.Random("%s %d" % (self.path, st.bump(self.path))).uniform(0, 0.4))

        auth = self.headers.get("Authorization")
        if mode == "bearer":
            if not auth:
                challenge = ('Bearer realm="%s/token",service="faultserver",scope="repository:%s:pull"'
                             % (self._base(), repo))
                return self._error(401, "UNAUTHORIZED", "authentication required", mode,
                                   headers=[("WWW-Authenticate", challenge)])
            return self._serve(mode, kind, ref, honest=True, query=url.query)
        if mode in ("tohttp", "redirect401"):
            if not auth:
                return self._error(401, "UNAUTHORIZED", "authentication required", mode,
                                   headers=[("WWW-Authenticate", 'Basic realm="faultserver"')])
            if mode == "tohttp":
                location = "http://127.0.0.1:%d%s" % (self.cfg["plain_port"], self.path)
            else:
                location = self._base(other=True) + self.path
            return self._send(302, b"", ctype=None, headers=[("Location", location)], mode=mode)
        if mode == "always401":
            return self._error(401, "UNAUTHORIZED", "authentication required", mode,
                               headers=[("WWW-Authenticate", self._challenge(mode))])
        if mode == "badchallenge":
            variants = {
                "unterminated": 'Bearer realm="%s/token,service="faultserver' % self._base(),
                "norealm": 'Bearer service="faultserver",scope="repository:fault/badchallenge:pull"',
                "garbage": 'Bearer ,,,=,"',
                "empty": "Bearer",
                "unknownscheme": "Negotiate YII=",
                "ftprealm": 'Bearer realm="ftp://127.0.0.1/token",service="faultserver"',
                "relativerealm": 'Bearer realm="/token",service="faultserver"',
            }
            challenge = variants.get(ref, variants["unterminated"])
            return self._error(401, "UNAUTHORIZED", "authentication required", mode,
                               headers=[("WWW-Authenticate", challenge)])
        if mode in ("tokenhtml", "tokenbadjson"):
            suffix = "/token/html" if mode == "tokenhtml" else "/token/badjson"
            return self._error(401, "UNAUTHORIZED", "authentication required", mode,
                               headers=[("WWW-Authenticate", self._challenge(mode, suffix))])
        if mode in ("redirect", "redirectbasic"):
            if not auth:
                if mode == "redirect":
                    challenge = self._challenge(mode)
                else:
                    challenge = 'Basic realm="faultserver"'
                return self._error(401, "UNAUTHORIZED", "authentication required", mode,
                                   headers=[("WWW-Authenticate", challenge)])
            location = self._base(other=True) + self.path
            return self._send(302, b"", ctype=None, headers=[("Location", location)], mode=mode)

        return self._serve(mode, kind, ref, honest=False, query=url.query)

    def _upstream(self, method, path):
        """(status, headers, body) of method path at the registry this server mirrors."""
        up = urllib.parse.urlsplit(self.cfg["mirror_of"])
        if up.scheme == "https":
            ctx = ssl.create_default_context(cafile=self.cfg["mirror_ca"])
            conn = http.client.HTTPSConnection(up.netloc, timeout=30, context=ctx)
        else:
            conn = http.client.HTTPConnection(up.netloc, timeout=30)
        headers = {"User-Agent": "boardpin-test-mirror/1"}
        if self.headers.get("Accept"):
            headers["Accept"] = self.headers["Accept"]
        if self.cfg["mirror_upstream_auth"]:
            headers["Authorization"] = "Basic " + base64.b64encode(
                self.cfg["mirror_upstream_auth"].encode()).decode()
        try:
            conn.request(method, path, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            return resp.status, resp.headers, body
        finally:
            conn.close()

    def _referrers_api(self, repo, hexdigest):
        """The referrers API answered from the registry's referrers tag: the same image index of
        descriptors, which the API returns (an empty one when the tag is absent)."""
        try:
            status, _, body = self._upstream("GET", "/v2/%s/manifests/sha256-%s" % (repo, hexdigest))
        except (OSError, http.client.HTTPException) as e:
            return self._error(502, "UNAVAILABLE", "upstream: %s" % e, "mirror")
        if status == 404:
            body = dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []})
        elif status != 200:
            return self._error(502, "UNAVAILABLE", "upstream: HTTP %d" % status, "mirror")
        return self._send(200, body, ctype=OCI_INDEX, mode="mirror-referrers")

    def _mirror(self):
        fault = self.cfg["mirror_fault"]
        login = self.cfg["mirror_login"]
        if login:
            auth = self.headers.get("Authorization") or ""
            want = "Basic " + base64.b64encode(login.encode()).decode()
            if auth != want:
                return self._error(401, "UNAUTHORIZED", "the mirror wants its own user", "mirror",
                                   headers=[("WWW-Authenticate", 'Basic realm="boardpin-test-mirror"')])
        path = self.path
        api = re.match(r"^/v2/(.+)/referrers/sha256:([0-9a-f]{64})$", urllib.parse.urlsplit(path).path)
        if api and fault == "referrers" and self.command == "GET":
            return self._referrers_api(api.group(1), api.group(2))
        m = re.match(r"^/v2/(.+)/manifests/([^/]+)$", urllib.parse.urlsplit(path).path)
        by_tag = bool(m) and not m.group(2).startswith("sha256:")
        sig_tag = by_tag and bool(SIG_TAG_RE.match(m.group(2)) or REFERRERS_TAG_RE.match(m.group(2)))
        if sig_tag and fault == "hidesig":
            return self._error(404, "MANIFEST_UNKNOWN", "manifest unknown", "mirror-hidesig")
        if by_tag and fault.startswith("swapsig:"):
            if SIG_TAG_RE.match(m.group(2)):
                _, repo, tag = fault.split(":", 2)
                path = "/v2/%s/manifests/%s" % (repo, tag)
        elif by_tag and fault.startswith("swap:"):
            _, repo, tag = fault.split(":", 2)
            path = "/v2/%s/manifests/%s" % (repo, tag)
        try:
            status, headers, body = self._upstream(self.command, path)
        except (OSError, http.client.HTTPException) as e:
            return self._error(502, "UNAVAILABLE", "upstream: %s" % e, "mirror")
        if by_tag and fault == "tamper" and self.command == "GET" and status == 200 and body:
            body = body[:-1] + (b" " if body[-1:] != b" " else b"\n")
        if fault.startswith("hidetag:") and urllib.parse.urlsplit(path).path.endswith("/tags/list") \
                and status == 200 and body:
            doc = json.loads(body)
            doc["tags"] = [t for t in doc.get("tags") or [] if t != fault.split(":", 1)[1]]
            body = json.dumps(doc).encode()
        out = []
        for name in ("Docker-Content-Digest", "Link", "WWW-Authenticate"):
            if headers.get(name):
                out.append((name, headers[name]))
        return self._send(status, body, ctype=headers.get("Content-Type") or None, headers=out,
                          mode="mirror-" + fault.partition(":")[0],
                          length=int(headers.get("Content-Length") or len(body))
                          if self.command == "HEAD" else None)

    def _token(self, path, query):
        st = self.cfg["state"]
        with st.lock:
            st.tokens += 1
            n = st.tokens
        if path == "/token/html":
            body = b"<!DOCTYPE html><html><body><h1>Sign in</h1></body></html>\n"
            return self._send(200, body, ctype="text/html; charset=utf-8")
        if path == "/token/badjson":
            return self._send(200, b'{"token": "abc', ctype="application/json")
        q = urllib.parse.parse_qs(query)
        with st.lock:
            st.token_log.append({"scopes": q.get("scope", []), "auth": bool(self.headers.get("Authorization"))})
        tok = "faultserver-token-%d" % n
        body = {"token": tok, "access_token": tok, "expires_in": 300,
                "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        return self._send(200, json.dumps(body).encode())

    def _serve(self, mode, kind, ref, honest, query=""):
        store = self.cfg["store"]
        if kind == "tags":
            if ref != "list":
                return self._error(404, "NOT_FOUND", "no such endpoint", mode)
            if mode != "paged":
                body = json.dumps({"name": "fault/" + mode, "tags": ["1.0", "latest"]}).encode()
                return self._send(200, body, mode=mode)
            q = urllib.parse.parse_qs(query)
            try:
                n = int((q.get("n") or ["10"])[0])
            except ValueError:
                return self._error(400, "PAGINATION_NUMBER_INVALID", "invalid number of results requested", mode)
            n = max(1, min(n, 10))     # a small cap, as some registries have: clients must follow Link
            last = (q.get("last") or [""])[0]
            rest = [t for t in PAGED_TAGS if t > last] if last else PAGED_TAGS
            page = rest[:n]
            headers = []
            if len(rest) > n:
                headers.append(("Link", '</v2/fault/paged/tags/list?%s>; rel="next"'
                                % urllib.parse.urlencode({"n": n, "last": page[-1]})))
            body = json.dumps({"name": "fault/paged", "tags": page}).encode()
            return self._send(200, body, headers=headers, mode=mode)

        is_digest = ref.startswith("sha256:")
        if kind == "manifests":
            d = ref if is_digest else store.top_for(mode)
            if d not in store.manifests:
                return self._error(404, "MANIFEST_UNKNOWN", "manifest unknown", mode)
            ctype, body = store.manifests[d]
        else:
            d = ref
            if d not in store.blobs:
                return self._error(404, "BLOB_UNKNOWN", "blob unknown to registry", mode)
            ctype, body = "application/octet-stream", store.blobs[d]

        header_digest = d
        if not honest and mode == "tampered":
            if kind == "manifests" and not is_digest:
                # Claim another manifest's digest for the index body.
                header_digest = store.children["linux/amd64"]
            else:
                body = body[:-1] + (b" " if body[-1:] != b" " else b"\n")
        headers = []
        if honest or mode != "nodigest":
            headers.append(("Docker-Content-Digest", header_digest))
        if kind == "manifests":
            headers.append(("ETag", '"%s"' % header_digest))

        if self.command == "HEAD" or honest:
            return self._send(200, body, ctype=ctype, headers=headers, mode=mode)

        if mode == "trickle" and kind == "manifests":
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self._log(200, mode)
            for i in range(len(body)):
                self.wfile.write(body[i:i + 1])
                self.wfile.flush()
                if self.cfg["stop"].wait(1.0):
                    break
            return None

        if mode == "oversizechunked" and kind == "manifests":
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Docker-Distribution-API-Version", "registry/2.0")
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            step = 65536
            for i in range(0, len(body), step):
                chunk = body[i:i + step]
                self.wfile.write(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            self._log(200, mode)
            return None

        if mode in STREAM_FAULTS:
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            extra = 1000 if mode == "truncated" else 0
            self.send_header("Content-Length", str(len(body) + extra))
            self.send_header("Docker-Distribution-API-Version", "registry/2.0")
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self._log(200, mode)
            self.close_connection = True
            if mode == "truncated":
                self.wfile.write(body)
                self.wfile.flush()
                return None
            if mode == "reset":
                self.wfile.write(body[: max(1, len(body) // 2)])
                self._abort_with_reset()
            # stall
            self.wfile.write(body[:8])
            self.wfile.flush()
            self.cfg["stop"].wait(self.cfg["stall_seconds"])
            return None

        return self._send(200, body, ctype=ctype, headers=headers, mode=mode)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, cfg, role, ctx):
        self.cfg = cfg
        self.role = role
        self.ssl_ctx = ctx
        super().__init__(addr, Handler)

    def finish_request(self, request, client_address):
        st = self.cfg["state"]
        with st.lock:
            st.connections[self.role] += 1
        request.settimeout(self.cfg["stall_seconds"] + 30)
        conn = request
        if self.ssl_ctx is not None:
            try:
                conn = self.ssl_ctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        try:
            super().finish_request(conn, client_address)
        except (ConnectionError, TimeoutError, ssl.SSLError, OSError):
            pass
        except Exception:
            self.handle_error(request, client_address)
        finally:
            if conn is not request:
                try:
                    conn.close()
                except OSError:
                    pass

    def shutdown_request(self, request):
        try:
            super().shutdown_request(request)
        except OSError:
            pass

    def handle_error(self, request, client_address):
        traceback.print_exc(file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description="fault-injecting registry for tests")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--other-port", type=int, default=0,
                    help="second listener for the redirect modes (0: none)")
    ap.add_argument("--other-host", default="localhost",
                    help="host name used in redirect Location headers")
    ap.add_argument("--plain-port", type=int, default=0,
                    help="the plain-HTTP faultserver's port, for the tohttp redirect")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--stall-seconds", type=float, default=60.0)
    ap.add_argument("--oversize-bytes", type=int, default=5 * 1024 * 1024)
    ap.add_argument("--mirror-of", default="",
                    help="a registry's base URL: /v2/ outside /v2/fault/ is a pull-through cache of it")
    ap.add_argument("--mirror-ca", default=None, help="CA bundle for --mirror-of over https")
    ap.add_argument("--mirror-upstream-auth", default="", help="USER:PASSWORD the mirror sends upstream")
    ap.add_argument("--mirror-fault", default="none",
                    help="none, tamper, swap:REPO:TAG, hidetag:TAG, hidesig, swapsig:REPO:TAG or referrers")
    ap.add_argument("--mirror-login", default="", help="USER:PASSWORD the mirror asks its clients for")
    ap.add_argument("--log", required=True)
    ap.add_argument("--pidfile")
    args = ap.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    if args.stall_seconds < 0 or args.stall_seconds > 600:
        ap.error("--stall-seconds must be within 0..600")
    if not (args.mirror_fault in ("none", "tamper", "hidesig", "referrers")
            or re.match(r"^swap(sig)?:[^:]+:[^:]+$", args.mirror_fault)
            or re.match(r"^hidetag:[^:]+$", args.mirror_fault)):
        ap.error("--mirror-fault is none, tamper, swap:REPO:TAG, hidetag:TAG, hidesig, swapsig:REPO:TAG or referrers")

    ctx = None
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)

    stop = threading.Event()
    cfg = {
        "port": args.port, "other_port": args.other_port, "other_host": args.other_host,
        "plain_port": args.plain_port,
        "mirror_of": args.mirror_of.rstrip("/"), "mirror_ca": args.mirror_ca,
        "mirror_upstream_auth": args.mirror_upstream_auth, "mirror_fault": args.mirror_fault,
        "mirror_login": args.mirror_login,
        "tls": ctx is not None, "stall_seconds": args.stall_seconds,
        "store": Store(args.oversize_bytes), "state": State(), "log": args.log,
        "stop": stop,
    }
    open(args.log, "a").close()
    servers = [Server(("127.0.0.1", args.port), cfg, "main", ctx)]
    if args.other_port:
        servers.append(Server(("127.0.0.1", args.other_port), cfg, "other", ctx))

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
               for s in servers]
    for t in threads:
        t.start()
    if args.pidfile:
        with open(args.pidfile, "w") as f:
            f.write("%d\n" % os.getpid())
    print("faultserver: listening on 127.0.0.1:%d%s" % (
        args.port, " and 127.0.0.1:%d" % args.other_port if args.other_port else ""), flush=True)
    while not stop.wait(0.5):
        pass
    for s in servers:
        s.shutdown()
        s.server_close()
    if args.pidfile:
        try:
            os.unlink(args.pidfile)
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
