#!/usr/bin/python3
"""sigseed.py: the signatures of tests/fixtures/signatures in a real registry, for the integration tests.

The fixtures were fetched from Debian's docker-registry on 127.0.0.1:5055 after trixie's cosign 2.5 and
skopeo 1.18 signed an image there (make.sh), and the classic payloads name that registry
(`127.0.0.1:5055/signed/app`): a client checks that name, so the registry must be at that very address
again. This module starts one there, in WORKDIR, rebuilds the image byte for byte with make.sh's own
python (its blobs are not committed; the digests are checked against index-digest and arm64-digest), and
pushes each case's signature artifacts exactly as they were fetched: the .sig manifests and payloads, the
bundle manifests, referrers indexes and bundles, and the config blobs cosign and skopeo wrote (not
committed either; rebuilt from go-containerregistry's and containers/image's layout and checked against
the digests the committed manifests name). It also builds what the hostile cases need: signature
manifests of cosign's shape over other payloads or signatures, bundles, referrers indexes, and classic
signatures made with openssl and keys/p256-private.pem the way cosign makes them, and bundles signed with
any key (dsse_bundle). Registry(..., host=) pushes the same way to another plain-HTTP registry (the
soak's, tests/soak/soak.py).

    import sigseed
    reg = sigseed.start(work)            # docker-registry on 127.0.0.1:5055; fails when the port is taken
    img = sigseed.seed_fixtures(reg)      # every fixture case in its repository, as make.sh left them
    ...
    reg.stop()

Command line (for a look by hand): `sigseed.py start WORKDIR` starts and seeds, and leaves the registry
running (its pid in WORKDIR/pids/sigreg.pid, so `registry.sh stop WORKDIR` ends it too);
`sigseed.py stop WORKDIR` ends it. Python 3 standard library and the openssl command only."""
import base64, functools, gzip, hashlib, io, json, os, re, shutil, socket, ssl, subprocess, sys, tarfile, tempfile, time
import urllib.error, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures", "signatures")
REGISTRY_BIN = os.environ.get("REGISTRY_BIN", "/usr/bin/docker-registry")
HOST = "127.0.0.1:5055"
PORT = 5055

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"
SIG_ANNOTATION = "dev.cosignproject.cosign/signature"


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def fixture(*parts, text=False):
    with open(os.path.join(FIXTURES, *parts), "rb") as f:
        data = f.read()
    return data.decode().strip() if text else data


def sig_tag(digest):
    """Cosign's classic signature tag of digest."""
    return digest.replace(":", "-") + ".sig"


def referrers_tag(digest):
    """The referrers tag of digest, where cosign puts bundles when the registry has no referrers API."""
    return digest.replace(":", "-")


@functools.lru_cache(maxsize=None)
def image_blobs():
    """make.sh's image, rebuilt by make.sh's own python (taken from the script, so the two cannot
    drift apart): ({digest: bytes}, index digest, {arch: child digest}), checked against the digests
    the signatures name."""
    script = open(os.path.join(FIXTURES, "make.sh")).read()
    m = re.search(r"^python3 - \"\$work/img\" <<'EOF'\n(.*?)^EOF$", script, re.S | re.M)
    if not m:
        raise RuntimeError("sigseed: make.sh holds no python3 - \"$work/img\" <<'EOF' ... EOF image builder")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "img")
        subprocess.run([sys.executable, "-", out], input=m.group(1).encode(), check=True)
        blobs = {}
        for name in os.listdir(os.path.join(out, "blobs", "sha256")):
            with open(os.path.join(out, "blobs", "sha256", name), "rb") as f:
                blobs["sha256:" + name] = f.read()
        with open(os.path.join(out, "index.json"), "rb") as f:
            layout = f.read()
    index = json.loads(layout)["manifests"][0]
    got = {c["platform"]["architecture"]: c["digest"] for c in json.loads(blobs[index["digest"]])["manifests"]}
    want_index, want_arm64 = fixture("index-digest", text=True), fixture("arm64-digest", text=True)
    if index["digest"] != want_index or layout != fixture("oci-layout-index.json") or got["arm64"] != want_arm64:
        raise RuntimeError(f"sigseed: the rebuilt image is {index['digest']} (arm64 {got['arm64']}), the "
                           f"fixtures name {want_index} (arm64 {want_arm64}): this python's gzip or tarfile "
                           f"writes other bytes than make.sh's did")
    for d, data in blobs.items():
        if sha(data) != d:
            raise RuntimeError(f"sigseed: blob {d} of the rebuilt image holds other bytes")
    return blobs, index["digest"], got


def cosign_config(diff_ids):
    """The config blob cosign 2.5 (go-containerregistry's empty image, one layer appended per signature)
    writes beside a .sig manifest's layers."""
    hist = ",".join('{"created":"0001-01-01T00:00:00Z"}' for _ in diff_ids)
    ids = ",".join(f'"{d}"' for d in diff_ids)
    return ('{"architecture":"","created":"0001-01-01T00:00:00Z","history":[%s],"os":"",'
            '"rootfs":{"type":"layers","diff_ids":[%s]},"config":{}}' % (hist, ids)).encode()


def skopeo_config(diff_ids):
    """The config blob skopeo 1.18 (containers/image's sigstore attachments) writes beside its layers."""
    ids = ",".join(f'"{d}"' for d in diff_ids)
    return ('{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[%s]}}' % ids).encode()


def payload(repo, digest):
    """A simple-signing payload as cosign 2.5 writes it (compare classic-index/sha256-*)."""
    return ('{"critical":{"identity":{"docker-reference":"%s"},"image":{"docker-manifest-digest":"%s"},'
            '"type":"cosign container image signature"},"optional":null}' % (repo, digest)).encode()


def sig_manifest(layers):
    """A .sig manifest of cosign's shape and key order; layers: [(payload bytes, signature base64)].
    Returns (manifest bytes, {digest: blob}) with the config blob cosign would write."""
    blobs = {sha(p): p for p, _ in layers}
    config = cosign_config([sha(p) for p, _ in layers])
    blobs[sha(config)] = config
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
           "config": {"mediaType": OCI_CONFIG, "size": len(config), "digest": sha(config)},
           "layers": [{"mediaType": SIMPLESIGNING, "size": len(p), "digest": sha(p),
                       "annotations": {SIG_ANNOTATION: s}} for p, s in layers]}
    return json.dumps(doc, separators=(",", ":")).encode(), blobs


def bundle_manifest(bundle, subject_digest, subject_size, created="2026-12-07T05:32:02Z", note=None,
                    subject_type=OCI_INDEX):
    """A bundle's referrer manifest of the shape cosign 2.5 writes (compare bundle/bundle-manifest.json);
    note, when given, goes in an annotation of its own, to make otherwise equal manifests differ;
    subject_type is the media type of what it signs (an index, or a single image's manifest)."""
    annotations = {"dev.sigstore.bundle.content": "dsse-envelope",
                   "dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1",
                   "org.opencontainers.image.created": created}
    if note is not None:
        annotations["org.example.boardpin-test"] = note
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
           "config": {"mediaType": OCI_EMPTY, "size": 2, "digest": sha(b"{}"), "artifactType": BUNDLE},
           "layers": [{"mediaType": BUNDLE, "size": len(bundle), "digest": sha(bundle)}],
           "annotations": annotations,
           "subject": {"mediaType": subject_type, "size": subject_size, "digest": subject_digest},
           "artifactType": BUNDLE}
    return json.dumps(doc, separators=(",", ":")).encode(), {sha(b"{}"): b"{}", sha(bundle): bundle}


def referrers_index(manifests):
    """The referrers tag's index of the shape cosign 2.5 writes: manifests is [manifest bytes]."""
    doc = {"schemaVersion": 2, "mediaType": OCI_INDEX,
           "manifests": [{"mediaType": OCI_MANIFEST, "size": len(m), "digest": sha(m), "artifactType": OCI_EMPTY}
                         for m in manifests]}
    return json.dumps(doc, separators=(",", ":")).encode()


def openssl_sign(key, data):
    """data signed as cosign signs a payload (ECDSA over SHA-256, DER), with openssl and the PEM key."""
    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        return subprocess.run(["openssl", "dgst", "-sha256", "-sign", key, f.name], check=True,
                              capture_output=True).stdout


def spki_sha256(pem_path):
    """The SHA-256 of a public key's DER SubjectPublicKeyInfo, from its PEM file."""
    lines = open(pem_path).read().split("\n")
    der = base64.b64decode("".join(l for l in lines if l and not l.startswith("-----")))
    return hashlib.sha256(der).digest()


def fingerprint(pem_path):
    """'SHA256:' and the unpadded base64 of the SHA-256 of the key's DER SubjectPublicKeyInfo."""
    return "SHA256:" + base64.b64encode(spki_sha256(pem_path)).decode().rstrip("=")


def classic_signature(key, name, digest):
    """A .sig manifest and its blobs as `cosign sign --key` writes them for name@digest, signed with key
    (a PEM private key): what Registry.push_signatures() takes after the digest."""
    p = payload(name, digest)
    return sig_manifest([(p, base64.b64encode(openssl_sign(key, p)).decode())])


def statement(name, digest):
    """The in-toto statement cosign 2.5 signs into a bundle (compare bundle/'s DSSE payload)."""
    return ('{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://sigstore.dev/cosign/sign/v1",'
            '"subject":[{"name":"%s","digest":{"sha256":"%s"}}],"predicate":{}}'
            % (name, digest.split(":", 1)[1])).encode()


def dsse_bundle(key, pub, body, payload_type="application/vnd.in-toto+json"):
    """A Sigstore bundle of cosign 2.5's shape and spacing (compare bundle/sha256-*): a DSSE envelope over
    body, signed with key (PEM private key) over DSSE's pre-authentication encoding; the key hint is the
    SHA-256 of pub's SubjectPublicKeyInfo."""
    t = payload_type.encode()
    sig = openssl_sign(key, b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body))
    return ('{"mediaType":"%s", "verificationMaterial":{"publicKey":{"hint":"%s"}}, "dsseEnvelope":{'
            '"payload":"%s", "payloadType":"%s", "signatures":[{"sig":"%s"}]}}'
            % (BUNDLE, base64.b64encode(spki_sha256(pub)).decode(), base64.b64encode(body).decode(),
               payload_type, base64.b64encode(sig).decode())).encode()


def bundle_signature(key, pub, name, digest, subject_size):
    """The referrer manifest and blobs that `cosign attest --new-bundle-format --type
    https://sigstore.dev/cosign/sign/v1` writes for name@digest (an index of subject_size bytes), signed
    with key: what Registry.push_referrers() takes, the manifest in a list, after the digest."""
    m, blobs = bundle_manifest(dsse_bundle(key, pub, statement(name, digest)), digest, subject_size)
    return [m], blobs


class Registry:
    """docker-registry on 127.0.0.1:5055, with what a test needs to push to it; or, given base, cafile and
    creds (USER:PASSWORD), another registry over TLS and Basic auth; or, given host, another plain-HTTP
    registry already running there (the harness's). For another registry proc and log are None: not ours
    to stop."""

    def __init__(self, work, proc, log, base=None, cafile=None, creds=None, host=HOST):
        self.work, self.proc, self.log = work, proc, log
        self.base = base or f"http://{host}"
        self.ctx = ssl.create_default_context(cafile=cafile) if cafile else None
        self.auth = "Basic " + base64.b64encode(creds.encode()).decode() if creds else None

    def _open(self, req):
        if self.auth:
            req.add_header("Authorization", self.auth)
        return urllib.request.urlopen(req, timeout=30, context=self.ctx)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        try:
            os.unlink(os.path.join(self.work, "pids", "sigreg.pid"))
        except OSError:
            pass

    def has_blob(self, repo, digest):
        req = urllib.request.Request(f"{self.base}/v2/{repo}/blobs/{digest}", method="HEAD")
        try:
            self._open(req).read()
            return True
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return False
            raise

    def put_blob(self, repo, data):
        d = sha(data)
        if self.has_blob(repo, d):
            return d
        req = urllib.request.Request(f"{self.base}/v2/{repo}/blobs/uploads/", method="POST", data=b"")
        loc = self._open(req).headers["Location"]
        if loc.startswith("/"):
            loc = self.base + loc
        sep = "&" if "?" in loc else "?"
        req = urllib.request.Request(f"{loc}{sep}digest={d}", method="PUT", data=data,
                                     headers={"Content-Type": "application/octet-stream"})
        self._open(req).read()
        return d

    def put_blobs(self, repo, blobs):
        for data in blobs.values():
            self.put_blob(repo, data)

    def put_manifest(self, repo, ref, data, media_type=None):
        """PUT data at repo:ref (a tag or its digest) and check the registry kept these very bytes."""
        media_type = media_type or json.loads(data)["mediaType"]
        req = urllib.request.Request(f"{self.base}/v2/{repo}/manifests/{ref}", method="PUT", data=data,
                                     headers={"Content-Type": media_type})
        got = self._open(req).headers.get("Docker-Content-Digest")
        if got != sha(data):
            raise RuntimeError(f"sigseed: {repo}:{ref}: the registry says {got}, the bytes are {sha(data)}")
        return got

    def get_manifest(self, repo, ref):
        """(status, bytes) of repo:ref as a client asking for OCI manifests and indexes sees it."""
        req = urllib.request.Request(f"{self.base}/v2/{repo}/manifests/{ref}",
                                     headers={"Accept": f"{OCI_INDEX}, {OCI_MANIFEST}"})
        try:
            with self._open(req) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, b""

    def push_image(self, repo, tags):
        """make.sh's image (index and both children) into repo, under each of tags; its index digest."""
        blobs, index, children = image_blobs()
        for d, data in blobs.items():
            doc = None
            try:
                doc = json.loads(data)
            except ValueError:
                pass
            if not isinstance(doc, dict) or "mediaType" not in doc:
                self.put_blob(repo, data)
        for d in children.values():
            self.put_manifest(repo, d, blobs[d])
        for tag in tags:
            self.put_manifest(repo, tag, blobs[index])
        return index

    def push_single(self, repo, tags, text):
        """A linux/arm64 OCI image of one layer holding text (another release, another image) into repo
        under each of tags; its manifest digest."""
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as t:
            info = tarfile.TarInfo("hello.txt")
            info.size, info.mtime = len(text.encode()), 1577836800
            t.addfile(info, io.BytesIO(text.encode()))
        raw = raw.getvalue()
        gz = io.BytesIO()
        with gzip.GzipFile(fileobj=gz, mode="wb", mtime=0) as g:
            g.write(raw)
        layer = gz.getvalue()
        config = json.dumps({"architecture": "arm64", "os": "linux", "created": "2020-01-01T00:00:00Z",
                             "rootfs": {"type": "layers", "diff_ids": [sha(raw)]}},
                            sort_keys=True, separators=(",", ":")).encode()
        m = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                        "config": {"mediaType": OCI_CONFIG, "size": len(config), "digest": self.put_blob(repo, config)},
                        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": len(layer),
                                    "digest": self.put_blob(repo, layer)}]},
                       sort_keys=True, separators=(",", ":")).encode()
        for tag in tags:
            self.put_manifest(repo, tag, m)
        return sha(m)

    def push_signatures(self, repo, digest, manifest, blobs):
        """A .sig manifest (bytes as they are) and its blobs, at digest's signature tag in repo."""
        self.put_blobs(repo, blobs)
        return self.put_manifest(repo, sig_tag(digest), manifest)

    def push_referrers(self, repo, digest, manifests, blobs):
        """Referrer manifests (bytes as they are), their blobs and an index of them at digest's referrers
        tag; manifests is [bytes], or a tuple ([bytes], index bytes) to push an index as it was fetched."""
        manifests, index = manifests if isinstance(manifests, tuple) else (manifests, None)
        self.put_blobs(repo, blobs)
        for m in manifests:
            self.put_manifest(repo, sha(m), m)
        return self.put_manifest(repo, referrers_tag(digest), index or referrers_index(manifests))

    def access_log(self):
        """(method, path, user agent) of every request the registry logged."""
        out = []
        with open(self.log, errors="replace") as f:
            for line in f:
                if not line.startswith("127.0.0.1 - - [") or '"' not in line:
                    continue
                parts = line.split('"')
                if len(parts) < 6:
                    continue
                req = parts[1].split(" ")
                out.append((req[0], req[1] if len(req) > 1 else "", parts[-2]))
        return out


def start(work, timeout=15):
    """docker-registry on 127.0.0.1:5055 with its storage, config and log in WORKDIR; a Registry."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", PORT))
    except OSError as e:
        raise RuntimeError(f"sigseed: {HOST} is taken ({e.strerror}): the signature fixtures name this "
                           f"registry, so the test needs it; stop what listens there (ss -ltnp 'sport = :{PORT}')")
    finally:
        s.close()
    storage = os.path.join(work, "storage", "sigreg")
    conf = os.path.join(work, "config", "sigreg.yml")
    shutil.rmtree(storage, ignore_errors=True)
    os.makedirs(storage)
    os.makedirs(os.path.dirname(conf), exist_ok=True)
    os.makedirs(os.path.join(work, "pids"), exist_ok=True)
    with open(conf, "w") as f:
        f.write(f"""version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
  redirect:
    disable: true
  cache:
    blobdescriptor: inmemory
http:
  addr: {HOST}
  secret: {os.urandom(12).hex()}
""")
    log = os.path.join(work, "sigreg.log")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    with open(log, "w") as out:
        proc = subprocess.Popen([REGISTRY_BIN, "serve", conf], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=clean, start_new_session=True)
    with open(os.path.join(work, "pids", "sigreg.pid"), "w") as f:
        f.write(f"{proc.pid}\n")
    reg = Registry(work, proc, log)
    deadline = time.time() + timeout
    while True:
        if proc.poll() is not None:
            reg.stop()
            raise RuntimeError(f"sigseed: docker-registry on {HOST} exited during start-up "
                               f"(status {proc.returncode}); log {log}: {open(log).read()[-400:]}")
        # Only our registry's own word counts: another process may have taken the port since the check.
        with open(log, errors="replace") as f:
            listening = f"listening on {HOST}" in f.read()
        try:
            urllib.request.urlopen(f"{reg.base}/v2/", timeout=2).read()
            if listening and proc.poll() is None:
                return reg
        except OSError:
            pass
        if time.time() > deadline:
            reg.stop()
            raise RuntimeError(f"sigseed: docker-registry on {HOST}: no answer within {timeout}s; log {log}")
        time.sleep(0.1)


def seed_fixtures(reg):
    """Every case of make.sh in its repository, as it was fetched from the registry make.sh ran:
    signed/app (classic-index), signed/child (classic-child), signed/rotated, signed/bundle,
    signed/provenance (bundle-provenance) and signed/skopeo, each with the image at tag 1. Returns
    {"index": digest, "arm64": digest, "amd64": digest}."""
    _, index, children = image_blobs()

    def classic(case, repo, name="sig-manifest.json", config=cosign_config):
        m = fixture(case, name)
        doc = json.loads(m)
        blobs = {l["digest"]: fixture(case, l["digest"].replace(":", "-")) for l in doc["layers"]}
        cfg = config([l["digest"] for l in doc["layers"]])
        if sha(cfg) != doc["config"]["digest"]:
            raise RuntimeError(f"sigseed: {case}/{name}: the rebuilt config blob is {sha(cfg)}, the manifest "
                               f"names {doc['config']['digest']}")
        blobs[sha(cfg)] = cfg
        signed = json.loads(blobs[doc["layers"][0]["digest"]])["critical"]["image"]["docker-manifest-digest"]
        reg.push_signatures(repo, signed, m, blobs)

    def bundle(case, repo):
        m = fixture(case, "bundle-manifest.json")
        doc = json.loads(m)
        blobs = {sha(b"{}"): b"{}"}
        for l in doc["layers"]:
            blobs[l["digest"]] = fixture(case, l["digest"].replace(":", "-"))
        reg.push_referrers(repo, doc["subject"]["digest"], ([m], fixture(case, "referrers.json")), blobs)

    for repo in ("signed/app", "signed/child", "signed/rotated", "signed/bundle", "signed/provenance",
                 "signed/skopeo"):
        reg.push_image(repo, ["1"])
    classic("classic-index", "signed/app")
    classic("classic-child", "signed/child")
    classic("rotated", "signed/rotated")
    classic("skopeo", "signed/skopeo", config=skopeo_config)
    classic("skopeo", "signed/skopeo", "sig-manifest-arm64.json", config=skopeo_config)
    bundle("bundle", "signed/bundle")
    bundle("bundle-provenance", "signed/provenance")
    # What the registry serves must be the fixtures' bytes, or they are not the signatures cosign made.
    for case, repo, tag in (("classic-index", "signed/app", sig_tag(index)),
                            ("classic-index", "signed/app", "1"),
                            ("bundle", "signed/bundle", referrers_tag(index))):
        name = {"1": "index.json"}.get(tag, "referrers.json" if case == "bundle" else "sig-manifest.json")
        status, body = reg.get_manifest(repo, tag)
        if status != 200 or body != fixture(case, name):
            raise RuntimeError(f"sigseed: {repo}:{tag} is not {case}/{name} byte for byte (HTTP {status})")
    return {"index": index, "arm64": children["arm64"], "amd64": children["amd64"]}


def main(argv):
    if len(argv) != 3 or argv[1] not in ("start", "stop"):
        print("usage: sigseed.py start|stop WORKDIR", file=sys.stderr)
        return 2
    work = os.path.abspath(argv[2])
    if argv[1] == "stop":
        pf = os.path.join(work, "pids", "sigreg.pid")
        try:
            pid = int(open(pf).read())
        except (OSError, ValueError):
            return 0
        try:
            ours = work in open(f"/proc/{pid}/cmdline", errors="replace").read()
        except OSError:
            ours = False
        if ours:    # a recycled pid is someone else's
            os.kill(pid, 15)
        os.unlink(pf)
        return 0
    os.makedirs(work, exist_ok=True)
    try:
        reg = start(work)
        img = seed_fixtures(reg)
    except (RuntimeError, OSError) as e:
        print(e, file=sys.stderr)
        return 1
    reg.proc = None     # leave it running
    print(f"sigseed: {HOST} seeded in {work}: index {img['index']}, arm64 {img['arm64']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
