#!/usr/bin/python3
"""Helpers for seed.sh (python3 standard library only).

  seedtool.py build LAYOUT
      Writes one OCI image layout at LAYOUT holding every test image, and
      LAYOUT/plan.json describing what to push where.  Output is
      byte-for-byte deterministic (fixed mtimes, gzip mtime 0, sorted keys),
      so digests are the same on every run and every machine with the same
      zlib.

  seedtool.py put-tags LAYOUT HOST:PORT [--scheme http|https] [--ca CA]
              [--user U --password P] [--token-realm URL --token-service SVC]
      PUTs the manifests that plan.json marks "put" (tags that only add a
      name to content already pushed by skopeo) straight to the registry.

  seedtool.py expected WORKDIR FETCHED_DIR OUT.json
      Builds expected.json from the manifests fetched with curl into
      FETCHED_DIR and cross-checks every platform with `skopeo inspect`.
"""

import argparse
import base64
import concurrent.futures
import gzip
import hashlib
import io
import json
import os
import shlex
import shutil
import ssl
import subprocess
import sys
import tarfile
import urllib.error
import urllib.parse
import urllib.request

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INTOTO = "application/vnd.in-toto+json"
CREATED = "2020-01-01T00:00:00Z"
MTIME = 1577836800
REF_ANNOTATION = "org.opencontainers.image.ref.name"

# Tags of test/many.  Aliases point at the same bytes as their target.
MANY_TAGS = [
    "0.9.0", "0.10.0", "v0.11.0", "1.0", "1.28.0", "1.28.1", "1.28.2",
    "1.29.0", "1.29.1", "1.29.2", "1.29.3", "1.29.4", "1.29.9", "1.29.10",
    "1.29.11", "1.29.10-debian", "1.30.0", "1.30.1", "1.30.2", "1.30.3",
    "1.30.4", "1.30.5", "1.30.5-r1", "1.30.5-1", "1.30.0_1", "1.31.0",
    "1.31.1", "v1.32.0", "v1.32.1", "1.33.0-beta.1", "1.33.0-rc.1", "1.33.0",
    "2.0.0-alpha.1", "2.0.0-beta.2", "2.0.0-rc.1", "2.0.0-rc.2", "2.0.0",
    "2.0.1", "2.1.0", "10.0.0", "1.30.1-alpine", "1.31.0-alpine",
    "1.31.0-alpine3.18", "2.0.0-alpine", "1.2.3.4", "20230101", "sha-0123abc",
    "nightly", "main", "1.30", "1.31", "1", "2", "2.0", "latest", "stable",
    "edge", "alpine", "V2.2.0", "2.2.0-RC.1",
]
MANY_ALIASES = {
    "latest": "2.1.0", "stable": "2.1.0", "edge": "2.1.0", "2": "2.1.0",
    "2.0": "2.0.1", "1": "v1.32.1", "1.31": "1.31.1", "1.30": "1.30.5",
    "alpine": "2.0.0-alpine",
}


def digest_of(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canon(obj):
    return json.dumps(obj, indent=2, sort_keys=True).encode() + b"\n"


def plat_str(p):
    s = "%s/%s" % (p.get("os", ""), p.get("architecture", ""))
    if p.get("variant"):
        s += "/" + p["variant"]
    return s


class Layout:
    def __init__(self, root):
        self.root = root
        self.blobdir = os.path.join(root, "blobs", "sha256")
        os.makedirs(self.blobdir, exist_ok=True)
        self.refs = []     # index.json entries
        self.sizes = {}

    def blob(self, data):
        d = digest_of(data)
        path = os.path.join(self.blobdir, d.split(":", 1)[1])
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data)
        self.sizes[d] = len(data)
        return d

    def layer(self, text, name="hello.txt"):
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = MTIME
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
        raw = raw.getvalue()
        gz = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=gz, mtime=0, compresslevel=9) as g:
            g.write(raw)
        gz = gz.getvalue()
        return digest_of(raw), self.blob(gz), len(gz)

    def image(self, os_, arch, variant, text):
        """Single-platform OCI manifest; returns (digest, size)."""
        diff_id, layer_d, layer_size = self.layer(text)
        config = {
            "architecture": arch,
            "os": os_,
            "created": CREATED,
            "config": {"Cmd": ["/bin/cat", "/hello.txt"], "Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created": CREATED, "created_by": "boardpin seedtool"}],
        }
        if variant:
            config["variant"] = variant
        cfg = canon(config)
        cfg_d = self.blob(cfg)
        man = canon({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": cfg_d, "size": len(cfg)},
            "layers": [{"mediaType": OCI_LAYER, "digest": layer_d, "size": layer_size}],
        })
        return self.blob(man), len(man)

    def attestation(self, subject_digest, subject_name, platform):
        """A buildx-style provenance attestation manifest for one child."""
        statement = canon({
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": "https://slsa.dev/provenance/v0.2",
            "subject": [{"name": "pkg:docker/%s?platform=%s"
                                 % (subject_name, urllib.parse.quote(platform, safe="")),
                         "digest": {"sha256": subject_digest.split(":", 1)[1]}}],
            "predicate": {"builder": {"id": ""},
                          "buildType": "https://mobyproject.org/buildkit@v1",
                          "metadata": {"buildStartedOn": CREATED}},
        })
        st_d = self.blob(statement)
        config = canon({
            "architecture": "unknown", "os": "unknown", "config": {},
            "rootfs": {"type": "layers", "diff_ids": [st_d]},
        })
        cfg_d = self.blob(config)
        man = canon({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": cfg_d, "size": len(config)},
            "layers": [{"mediaType": INTOTO, "digest": st_d, "size": len(statement),
                        "annotations": {"in-toto.io/predicate-type":
                                        "https://slsa.dev/provenance/v0.2"}}],
        })
        return self.blob(man), len(man)

    def index(self, entries, annotations=None):
        """entries: list of (digest, size, platform dict, annotations or None)."""
        manifests = []
        for d, size, plat, ann in entries:
            e = {"mediaType": OCI_MANIFEST, "digest": d, "size": size, "platform": plat}
            if ann:
                e["annotations"] = ann
            manifests.append(e)
        idx = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
        if annotations:
            idx["annotations"] = annotations
        data = canon(idx)
        return self.blob(data), len(data)

    def ref(self, name, media_type, d, size):
        self.refs.append({"mediaType": media_type, "digest": d, "size": size,
                          "annotations": {REF_ANNOTATION: name}})

    def finish(self):
        with open(os.path.join(self.root, "oci-layout"), "wb") as f:
            f.write(b'{"imageLayoutVersion":"1.0.0"}')
        with open(os.path.join(self.root, "index.json"), "wb") as f:
            f.write(canon({"schemaVersion": 2, "manifests": self.refs}))


def P(os_, arch, variant=None):
    p = {"architecture": arch, "os": os_}
    if variant:
        p["variant"] = variant
    return p


def build(root):
    if os.path.isdir(root):
        shutil.rmtree(root)
    L = Layout(root)
    plan = []

    def add(repo, tag, kind, d, size, fmt="oci", push="skopeo"):
        ref = "%s_%s" % (repo.split("/")[-1], tag)
        L.ref(ref, OCI_INDEX if kind == "index" else OCI_MANIFEST, d, size)
        plan.append({"repo": repo, "tag": tag, "ref": ref, "kind": kind,
                     "format": fmt, "push": push, "digest": d})

    # test/multi:1.0 and 1.1 (1.1 changes only the amd64 child).
    def multi(version, attestations=True):
        kids = []
        amd = L.image("linux", "amd64", None, "test/multi linux/amd64 %s\n" % version)
        kids.append((amd, P("linux", "amd64")))
        kids.append((L.image("linux", "arm", "v6", "test/multi linux/arm/v6\n"), P("linux", "arm", "v6")))
        kids.append((L.image("linux", "arm", "v7", "test/multi linux/arm/v7\n"), P("linux", "arm", "v7")))
        arm64 = L.image("linux", "arm64", "v8", "test/multi linux/arm64/v8\n")
        kids.append((arm64, P("linux", "arm64", "v8")))
        entries = [(d, s, p, None) for (d, s), p in kids]
        if not attestations:
            return L.index(entries)
        for (d, s), p in ((amd, P("linux", "amd64")), (arm64, P("linux", "arm64", "v8"))):
            ad, asz = L.attestation(d, "test/multi@%s" % version, plat_str(p))
            entries.append((ad, asz, {"architecture": "unknown", "os": "unknown"},
                            {"vnd.docker.reference.digest": d,
                             "vnd.docker.reference.type": "attestation-manifest"}))
        return L.index(entries)

    d, s = multi("1.0")
    add("test/multi", "1.0", "index", d, s)
    # skopeo cannot convert the in-toto attestation manifests to Docker v2s2
    # ("Unknown media type during manifest conversion"), and a Docker
    # manifest list has no annotations to mark them anyway: the v2s2 list is
    # made from the same children without the attestation entries.
    d, s = multi("1.0", attestations=False)
    add("test/multi-v2", "1.0", "index", d, s, fmt="v2s2")
    d, s = multi("1.1")
    add("test/multi", "1.1", "index", d, s)

    # test/nov6:1.0 - no arm/v6, arm64 without variant.
    entries = []
    for p in (P("linux", "amd64"), P("linux", "arm", "v7"), P("linux", "arm64")):
        cd, cs = L.image(p["os"], p["architecture"], p.get("variant"), "test/nov6 %s\n" % plat_str(p))
        entries.append((cd, cs, p, None))
    d, s = L.index(entries)
    add("test/nov6", "1.0", "index", d, s)

    # test/single-amd64:1.0 - a plain OCI manifest.
    d, s = L.image("linux", "amd64", None, "test/single-amd64 linux/amd64\n")
    add("test/single-amd64", "1.0", "manifest", d, s)

    # test/perarch - one single-platform image per tag, pushed as Docker v2s2
    # like the images of the time when projects published per-arch tags.
    for tag, p in (("1.0-armv6", P("linux", "arm", "v6")), ("1.0-raspberry", P("linux", "arm", "v7")),
                   ("1.0-aarch64", P("linux", "arm64", "v8")), ("1.0", P("linux", "amd64"))):
        d, s = L.image(p["os"], p["architecture"], p.get("variant"), "test/perarch %s\n" % tag)
        add("test/perarch", tag, "manifest", d, s, fmt="v2s2")

    # test/mislabeled:1.0 - the linux/arm64 entry's config says amd64.
    amd = L.image("linux", "amd64", None, "test/mislabeled linux/amd64\n")
    v7 = L.image("linux", "arm", "v7", "test/mislabeled linux/arm/v7\n")
    bad = L.image("linux", "amd64", None, "test/mislabeled entry linux/arm64 (config says amd64)\n")
    d, s = L.index([(amd[0], amd[1], P("linux", "amd64"), None),
                    (v7[0], v7[1], P("linux", "arm", "v7"), None),
                    (bad[0], bad[1], P("linux", "arm64", "v8"), None)])
    add("test/mislabeled", "1.0", "index", d, s)

    # test/dup:1.0 - two linux/arm/v7 entries, the first must win.
    amd = L.image("linux", "amd64", None, "test/dup linux/amd64\n")
    first = L.image("linux", "arm", "v7", "test/dup linux/arm/v7 first\n")
    second = L.image("linux", "arm", "v7", "test/dup linux/arm/v7 second\n")
    d, s = L.index([(amd[0], amd[1], P("linux", "amd64"), None),
                    (first[0], first[1], P("linux", "arm", "v7"), None),
                    (second[0], second[1], P("linux", "arm", "v7"), None)])
    add("test/dup", "1.0", "index", d, s)

    # test/many - one small multi-arch image, each tag its own index (the
    # children are shared; the index carries the version annotation), so a
    # test can tell which tag a client resolved.
    kids = []
    for p in (P("linux", "amd64"), P("linux", "arm", "v7"), P("linux", "arm64", "v8")):
        cd, cs = L.image(p["os"], p["architecture"], p.get("variant"), "test/many %s\n" % plat_str(p))
        kids.append((cd, cs, p, None))
    per_tag = {}
    for tag in MANY_TAGS:
        if tag in MANY_ALIASES:
            continue
        per_tag[tag] = L.index(kids, annotations={"org.opencontainers.image.version": tag})
    first = True
    for tag in MANY_TAGS:
        d, s = per_tag[MANY_ALIASES.get(tag, tag)]
        add("test/many", tag, "index", d, s, push="skopeo" if first else "put")
        first = False

    L.finish()
    with open(os.path.join(root, "plan.json"), "w") as f:
        json.dump({"images": plan, "many_aliases": MANY_ALIASES}, f, indent=2)
        f.write("\n")


# ---------------------------------------------------------------------------
# put-tags

def ssl_context(ca):
    ctx = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
    return ctx


def http(method, url, ctx, headers=None, data=None):
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(req, context=ctx if url.startswith("https") else None,
                                    timeout=20) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def put_tags(args):
    ap = argparse.ArgumentParser(prog="seedtool.py put-tags")
    ap.add_argument("layout")
    ap.add_argument("registry")
    ap.add_argument("--scheme", default="https")
    ap.add_argument("--ca")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--token-realm")
    ap.add_argument("--token-service")
    a = ap.parse_args(args)
    ctx = ssl_context(a.ca)
    with open(os.path.join(a.layout, "plan.json")) as f:
        plan = json.load(f)["images"]
    todo = [e for e in plan if e["push"] == "put"]
    base = "%s://%s" % (a.scheme, a.registry)
    auth = {}
    if a.user and not a.token_realm:
        auth["Authorization"] = "Basic " + base64.b64encode(
            ("%s:%s" % (a.user, a.password)).encode()).decode()
    tokens = {}

    def headers_for(repo):
        if not a.token_realm:
            return dict(auth)
        if repo not in tokens:
            q = urllib.parse.urlencode({"service": a.token_service,
                                        "scope": "repository:%s:pull,push" % repo})
            h = {}
            if a.user:
                h["Authorization"] = "Basic " + base64.b64encode(
                    ("%s:%s" % (a.user, a.password)).encode()).decode()
            st, _, body = http("GET", a.token_realm + "?" + q, ctx, h)
            if st != 200:
                raise SystemExit("seedtool: token server answered %d for %s" % (st, repo))
            tokens[repo] = json.loads(body)["token"]
        return {"Authorization": "Bearer " + tokens[repo]}

    for e in todo:
        path = os.path.join(a.layout, "blobs", "sha256", e["digest"].split(":", 1)[1])
        with open(path, "rb") as f:
            body = f.read()
        ctype = OCI_INDEX if e["kind"] == "index" else OCI_MANIFEST
        h = headers_for(e["repo"])
        h["Content-Type"] = ctype
        url = "%s/v2/%s/manifests/%s" % (base, e["repo"], e["tag"])
        st, hdrs, resp = http("PUT", url, ctx, h, body)
        if st != 201:
            raise SystemExit("seedtool: PUT %s answered %d: %s" % (url, st, resp[:300]))
        got = hdrs.get("Docker-Content-Digest")
        if got != e["digest"]:
            raise SystemExit("seedtool: PUT %s: registry says %s, expected %s" % (url, got, e["digest"]))
    return 0


# ---------------------------------------------------------------------------
# expected

def load_env(workdir):
    env = {}
    with open(os.path.join(workdir, "env")) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                env[k] = " ".join(shlex.split(v))
    return env


ACCEPT = ", ".join([OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST])


class Fetcher:
    """GETs manifests with curl, the way a client would."""

    def __init__(self, env, kind, host, outdir):
        self.env, self.kind, self.host, self.outdir = env, kind, host, outdir
        self.tokens = {}
        os.makedirs(outdir, exist_ok=True)

    def _auth(self, repo):
        env = self.env
        if self.kind == "plain":
            return ["http://"]
        if self.kind == "basic":
            return ["https://", "--cacert", env["CA_FILE"], "-u",
                    "%s:%s" % (env["REG_USER"], env["REG_PASSWORD"])]
        if repo not in self.tokens:
            q = urllib.parse.urlencode({"service": env["TOKEN_SERVICE"],
                                        "scope": "repository:%s:pull" % repo})
            r = subprocess.run(["curl", "-sS", "-f", "--max-time", "20", "--cacert", env["CA_FILE"],
                                "-u", "%s:%s" % (env["REG_USER"], env["REG_PASSWORD"]),
                                env["TOKEN_REALM"] + "?" + q],
                               capture_output=True, timeout=30)
            if r.returncode != 0:
                raise RuntimeError("token server: %s" % r.stderr.decode().strip())
            self.tokens[repo] = json.loads(r.stdout)["token"]
        return ["https://", "--cacert", env["CA_FILE"],
                "-H", "Authorization: Bearer " + self.tokens[repo]]

    def get(self, repo, ref, what="manifests"):
        """Returns (body bytes, {lower-case header: value})."""
        auth = self._auth(repo)
        scheme, extra = auth[0], auth[1:]
        stem = os.path.join(self.outdir, ("%s@%s" % (repo, ref)).replace("/", "_").replace(":", "_"))
        url = "%s%s/v2/%s/%s/%s" % (scheme, self.host, repo, what, ref)
        r = subprocess.run(["curl", "-sS", "--max-time", "20", "-H", "Accept: " + ACCEPT,
                            "-D", stem + ".headers", "-o", stem + ".body",
                            "-w", "%{http_code}"] + extra + [url],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0 or r.stdout != "200":
            raise RuntimeError("curl %s: HTTP %s %s" % (url, r.stdout, r.stderr.strip()))
        with open(stem + ".body", "rb") as f:
            body = f.read()
        headers = {}
        with open(stem + ".headers", "rb") as f:
            for line in f.read().decode("latin-1").splitlines():
                if ":" in line and not line.startswith("HTTP/"):
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
        return body, headers


def skopeo_cmd(env, kind):
    cmd = ["skopeo", "--policy", env["CONTAINERS_POLICY"],
           "--registries-conf", env["CONTAINERS_REGISTRIES_CONF"],
           "--registries.d", env["CONTAINERS_REGISTRIES_D"], "inspect", "--retry-times", "2"]
    if kind == "plain":
        cmd += ["--tls-verify=false"]
    else:
        cmd += ["--cert-dir", env["CERT_DIR"], "--authfile", env["AUTH_FILE"]]
    return cmd


def labels_of(config):
    lab = {"os": config.get("os"), "architecture": config.get("architecture")}
    if config.get("variant"):
        lab["variant"] = config["variant"]
    return lab


def expected(args):
    workdir, fetched, out = args
    env = load_env(workdir)
    with open(os.path.join(workdir, "layout", "plan.json")) as f:
        plan = json.load(f)
    registries = {"plain": env["REG_PLAIN"], "basic": env["REG_BASIC"], "token": env["REG_TOKEN"]}
    result = {"registries": registries, "images": {}}
    problems = []
    checks = []  # (kind, name, platform or None, child digest or None, config digest)

    def scan(kind, host):
        checks = []
        fetch = Fetcher(env, kind, host, os.path.join(fetched, kind))
        imgs = {}
        child_cache = {}

        def child(repo, d):
            if d not in child_cache:
                body, headers = fetch.get(repo, d)
                if digest_of(body) != d or headers.get("docker-content-digest") != d:
                    problems.append("%s %s@%s: served bytes or header do not match the digest"
                                    % (kind, repo, d))
                man = json.loads(body)
                cfg_d = man["config"]["digest"]
                cfg, _ = fetch.get(repo, cfg_d, what="blobs")
                if digest_of(cfg) != cfg_d:
                    problems.append("%s %s config %s: served bytes do not match" % (kind, repo, cfg_d))
                info = {"digest": cfg_d}
                info.update(labels_of(json.loads(cfg)))
                child_cache[d] = (man, info)
            return child_cache[d]

        for e in plan["images"]:
            repo, name = e["repo"], "%s:%s" % (e["repo"], e["tag"])
            body, headers = fetch.get(repo, e["tag"])
            d = digest_of(body)
            if headers.get("docker-content-digest") != d:
                problems.append("%s %s: Docker-Content-Digest %s but body is %s"
                                % (kind, name, headers.get("docker-content-digest"), d))
            doc = json.loads(body)
            media = headers.get("content-type", "").split(";")[0].strip()
            if doc.get("mediaType") and doc["mediaType"] != media:
                problems.append("%s %s: Content-Type %s but mediaType %s"
                                % (kind, name, media, doc["mediaType"]))
            if e["format"] == "oci" and d != e["digest"]:
                problems.append("%s %s: registry serves %s, the layout has %s"
                                % (kind, name, d, e["digest"]))
            rec = {"digest": d, "mediaType": media, "size": len(body)}
            if media in (OCI_INDEX, DOCKER_LIST):
                entries, platforms, configs = [], {}, {}
                for m in doc.get("manifests", []):
                    p = m.get("platform", {})
                    ann = m.get("annotations") or {}
                    att = ann.get("vnd.docker.reference.type") == "attestation-manifest"
                    entries.append({"digest": m["digest"], "mediaType": m.get("mediaType"),
                                    "platform": plat_str(p), "attestation": att})
                    if att:
                        continue
                    platforms.setdefault(plat_str(p), m["digest"])
                    configs[m["digest"]] = dict(child(repo, m["digest"])[1])
                rec.update(platforms=platforms, entries=entries, configs=configs)
                # test/many's indexes share their children: check two tags.
                if repo != "test/many" or e["push"] == "skopeo" or e["tag"] == "latest":
                    for pstr, cd in platforms.items():
                        checks.append((kind, name, pstr, cd, configs[cd]["digest"]))
                    if repo == "test/nov6":
                        checks.append((kind, name, "linux/arm/v6", None, None))
            else:
                info = dict(child(repo, d)[1])
                rec.update(platforms={plat_str(info): d}, configs={d: info})
                checks.append((kind, name, None, d, info["digest"]))
            imgs[name] = rec
        return kind, imgs, checks

    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        futures = [pool.submit(scan, k, h) for k, h in registries.items()]
        for fut in futures:
            try:
                kind, imgs, found = fut.result()
            except (RuntimeError, ValueError, KeyError, OSError, subprocess.TimeoutExpired) as e:
                print("seed: FAIL expected.json: fetching with curl: %s" % e, file=sys.stderr)
                return 1
            result["images"][kind] = imgs
            checks.extend(found)

    def run_check(c):
        kind, name, pstr, want_child, want_cfg = c
        cmd = skopeo_cmd(env, kind)
        if pstr:
            parts = pstr.split("/")
            cmd += ["--override-os", parts[0], "--override-arch", parts[1]]
            if len(parts) > 2:
                cmd += ["--override-variant", parts[2]]
        cmd += ["--config", "--raw", "docker://%s/%s" % (registries[kind], name)]
        r = subprocess.run(cmd, capture_output=True, timeout=60)
        return c, r.returncode, r.stdout, r.stderr.decode("utf-8", "replace")

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        for c, rc, stdout, stderr in pool.map(run_check, checks):
            kind, name, pstr, want_child, want_cfg = c
            if want_child is None:
                if rc == 0:
                    problems.append("%s %s: skopeo found a %s image, the index has none"
                                    % (kind, name, pstr))
                elif "no image found" not in stderr:
                    problems.append("%s %s %s: skopeo failed for another reason: %s"
                                    % (kind, name, pstr, stderr.strip()[-300:]))
                continue
            if rc != 0:
                last = (stderr.strip().splitlines() or [""])[-1]
                problems.append("%s %s %s: skopeo inspect failed: %s" % (kind, name, pstr or "", last))
                continue
            if digest_of(stdout) != want_cfg:
                problems.append("%s %s %s: skopeo chose config %s, index entry %s has config %s"
                                % (kind, name, pstr, digest_of(stdout), want_child, want_cfg))
                continue
            labels = labels_of(json.loads(stdout))
            if pstr is None:
                continue
            entry = pstr.split("/")
            mislabeled = name == "test/mislabeled:1.0" and pstr == "linux/arm64/v8"
            matches = (labels["os"] == entry[0] and labels["architecture"] == entry[1]
                       and (len(entry) < 3 or labels.get("variant", entry[2]) == entry[2]))
            if matches == mislabeled:
                problems.append("%s %s %s: config says %s%s" % (
                    kind, name, pstr, plat_str(labels),
                    " (expected the deliberate mismatch)" if mislabeled else ""))

    tags = {}
    for e in plan["images"]:
        tags.setdefault(e["repo"], []).append(e["tag"])
    result["tags"] = tags
    result["aliases"] = {"test/many": plan["many_aliases"]}

    if problems:
        for p in problems:
            print("seed: FAIL expected.json: " + p, file=sys.stderr)
        return 1
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, out)
    print("seed: %d tags x %d registries fetched, %d skopeo platform checks agree"
          % (len(plan["images"]), len(registries), len(checks)))
    return 0


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, rest = argv[1], argv[2:]
    if cmd == "build" and len(rest) == 1:
        build(rest[0])
        return 0
    if cmd == "put-tags":
        return put_tags(rest)
    if cmd == "expected" and len(rest) == 3:
        return expected(rest)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
