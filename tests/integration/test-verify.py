#!/usr/bin/python3
"""test-verify.py BOARDPIN WORKDIR [ROOTS]: verify = against real signatures. Starts its own docker-registry
on 127.0.0.1:5055 (the fixtures' classic payloads name 127.0.0.1:5055/signed/...), pushes the fixture image
of tests/fixtures/signatures/make.sh and each signature exactly as cosign 2.5 and skopeo 1.18 wrote it
(their SOURCE files), and runs resolve and upgrade with verify = on it. The upgrade case signs a second
image with openssl (the same simple-signing payload cosign writes) to show a held digest taken once signed.
Cases run side by side, each in a directory of its own."""
import atexit, base64, gzip, hashlib, io, json, os, shutil, socket, subprocess, sys, tarfile, tempfile, time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from harness import check

bp = os.path.realpath(sys.argv[1])
here = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.realpath(os.path.join(here, "..", "fixtures", "signatures"))
REG = "127.0.0.1:5055"
INDEX = open(os.path.join(FIX, "index-digest")).read().strip()
ARM64 = open(os.path.join(FIX, "arm64-digest")).read().strip()

def key_copy(*parts):
    """The fixture key as root's own 0644 copy: a checkout's mode follows the umask it was made with, and
    boardpin refuses a key writable by its group."""
    d = os.path.join(tempfile.gettempdir(), f"bp-verify-keys.{os.getpid()}")
    os.makedirs(d, exist_ok=True)
    dst = os.path.join(d, parts[-1])
    shutil.copyfile(os.path.join(FIX, *parts), dst)
    os.chmod(dst, 0o644)
    return dst


KEY1, KEY2 = key_copy("key1.pub"), key_copy("key2.pub")
OWN_PRIV, OWN_PUB = os.path.join(FIX, "keys", "p256-private.pem"), key_copy("keys", "p256.pub")
atexit.register(shutil.rmtree, os.path.dirname(KEY1), True)
MT_INDEX, MT_MANIFEST = "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json"


def fingerprint(pem_path):
    """SHA256: and unpadded base64 of the SHA-256 of the key's DER SubjectPublicKeyInfo, as openssl gives it."""
    der = subprocess.run(["openssl", "pkey", "-pubin", "-in", pem_path, "-outform", "DER"], capture_output=True,
                         check=True).stdout
    return "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")


def harness_free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- the registry ----------------------------------------------------------------------------------------

def start_registry(d, port=5055):
    if port != 5055:  # a mirror: any free port
        return start_plain(d, port)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Go's listener: TIME_WAIT is no owner
    try:
        s.bind(("127.0.0.1", 5055))
    except OSError as e:
        print(f"FAIL test-verify: 127.0.0.1:5055 is taken ({e}); the fixtures' payloads name that port")
        print("0 passed, 1 failed")
        sys.exit(1)
    finally:
        s.close()
    return start_plain(d, 5055)


def start_plain(d, port):
    cfg = os.path.join(d, f"registry-{port}.yml")
    open(cfg, "w").write(f"""version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {d}/storage-{port}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
  secret: test-verify
""")
    p = subprocess.Popen(["/usr/bin/docker-registry", "serve", cfg], stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(d, f"registry-{port}.log"), "w"))
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
            time.sleep(0.3)  # one that lost the port to another registry exits at once: not ours
            if p.poll() is None:
                return p
            break
        except Exception:
            if p.poll() is not None:
                break
            time.sleep(0.1)
    p.kill()
    print(f"FAIL test-verify: docker-registry on 127.0.0.1:{port} did not start")
    print("0 passed, 1 failed")
    sys.exit(1)


def req(method, url, data=None, headers=None):
    r = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(r, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def push_blob(repo, data, host=REG):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    st, h, _ = req("POST", f"http://{host}/v2/{repo}/blobs/uploads/")
    assert st == 202, (repo, st)
    loc = h["Location"]
    loc = loc if loc.startswith("http") else f"http://{host}{loc}"
    st, _, body = req("PUT", f"{loc}{'&' if '?' in loc else '?'}digest={d}", data,
                      {"Content-Type": "application/octet-stream"})
    assert st == 201, (repo, st, body)
    return d


def push_manifest(repo, ref, data, media_type, host=REG):
    st, h, body = req("PUT", f"http://{host}/v2/{repo}/manifests/{ref}", data, {"Content-Type": media_type})
    assert st == 201, (repo, ref, st, body)
    assert h.get("Docker-Content-Digest") == "sha256:" + hashlib.sha256(data).hexdigest()


def js(o):
    return json.dumps(o, sort_keys=True, separators=(",", ":")).encode()


def build_image(text):
    """make.sh's two-platform image (text "" gives its bytes exactly): (blobs, manifests, index bytes)."""
    blobs, manifests, children = [], [], []
    for arch in ("amd64", "arm64"):
        tar = io.BytesIO()
        with tarfile.open(fileobj=tar, mode="w", format=tarfile.USTAR_FORMAT) as t:
            data = f"boardpin signature fixture, {arch}\n{text}".encode()
            info = tarfile.TarInfo("hello.txt")
            info.size, info.mtime = len(data), 1577836800
            t.addfile(info, io.BytesIO(data))
        raw = tar.getvalue()
        gz = io.BytesIO()
        with gzip.GzipFile(fileobj=gz, mode="wb", mtime=0) as g:
            g.write(raw)
        layer = gz.getvalue()
        config = js({"architecture": arch, "os": "linux", "created": "2020-01-01T00:00:00Z",
                     "config": {"Cmd": ["/hello.txt"]},
                     "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]}})
        desc = lambda b: {"digest": "sha256:" + hashlib.sha256(b).hexdigest(), "size": len(b)}
        m = js({"schemaVersion": 2, "mediaType": MT_MANIFEST,
                "config": dict(desc(config), mediaType="application/vnd.oci.image.config.v1+json"),
                "layers": [dict(desc(layer), mediaType="application/vnd.oci.image.layer.v1.tar+gzip")]})
        blobs += [layer, config]
        manifests.append(m)
        children.append(dict(desc(m), mediaType=MT_MANIFEST, platform={"architecture": arch, "os": "linux"}))
    index = js({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": children})
    return blobs, manifests, index


def push_image(repo, tag, image, host=REG):
    blobs, manifests, index = image
    for b in blobs:
        push_blob(repo, b, host)
    for m in manifests:
        push_manifest(repo, "sha256:" + hashlib.sha256(m).hexdigest(), m, MT_MANIFEST, host)
    push_manifest(repo, tag, index, MT_INDEX, host)
    return "sha256:" + hashlib.sha256(index).hexdigest()


def sig_config(manifest):
    """The config blob of a .sig manifest, which the fixtures do not keep: cosign's (go-containerregistry)
    and skopeo's (containers/image) are rebuilt byte for byte and checked against the manifest's digest."""
    layers = [l["digest"] for l in manifest["layers"]]
    ids = ",".join(f'"{l}"' for l in layers)
    hist = ",".join(['{"created":"0001-01-01T00:00:00Z"}'] * len(layers))
    for c in ('{"architecture":"","created":"0001-01-01T00:00:00Z","history":[%s],"os":"","rootfs":{"type":'
              '"layers","diff_ids":[%s]},"config":{}}' % (hist, ids),
              '{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[%s]}}' % ids):
        if "sha256:" + hashlib.sha256(c.encode()).hexdigest() == manifest["config"]["digest"]:
            return c.encode()
    raise SystemExit(f"test-verify: cannot rebuild config {manifest['config']['digest']}")


def push_sig(repo, case, name, digest):
    """A .sig tag as fetched: its config, its layers, its manifest at sha256-HEX.sig."""
    raw = open(os.path.join(FIX, case, name), "rb").read()
    m = json.loads(raw)
    push_blob(repo, sig_config(m))
    for l in m["layers"]:
        push_blob(repo, open(os.path.join(FIX, case, l["digest"].replace(":", "-")), "rb").read())
    push_manifest(repo, digest.replace(":", "-") + ".sig", raw, MT_MANIFEST)


def push_bundle(repo, case, digest):
    """The referrers tag sha256-HEX as cosign left it on a registry without the API, and what it lists."""
    raw = open(os.path.join(FIX, case, "bundle-manifest.json"), "rb").read()
    m = json.loads(raw)
    push_blob(repo, b"{}")
    for l in m["layers"]:
        push_blob(repo, open(os.path.join(FIX, case, l["digest"].replace(":", "-")), "rb").read())
    push_manifest(repo, "sha256:" + hashlib.sha256(raw).hexdigest(), raw, MT_MANIFEST)
    push_manifest(repo, digest.replace(":", "-"), open(os.path.join(FIX, case, "referrers.json"), "rb").read(),
                  MT_INDEX)


def sign_openssl(repo, digest, key):
    """cosign sign's classic form, made with openssl: the simple-signing payload, its ECDSA signature in the
    layer annotation, at the tag sha256-HEX.sig."""
    payload = js({"critical": {"identity": {"docker-reference": f"{REG}/{repo}"},
                               "image": {"docker-manifest-digest": digest},
                               "type": "cosign container image signature"}, "optional": None})
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=payload, capture_output=True,
                         check=True).stdout
    layer = push_blob(repo, payload)
    config = ('{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],'
              '"os":"","rootfs":{"type":"layers","diff_ids":["%s"]},"config":{}}' % layer).encode()
    m = js({"schemaVersion": 2, "mediaType": MT_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": len(config),
                       "digest": push_blob(repo, config)},
            "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", "size": len(payload),
                        "digest": layer,
                        "annotations": {"dev.cosignproject.cosign/signature": base64.b64encode(sig).decode()}}]})
    push_manifest(repo, digest.replace(":", "-") + ".sig", m, MT_MANIFEST)


# ---- the runs --------------------------------------------------------------------------------------------

def setup_case(name, repo, verify, settings=None):
    d = os.path.join(top, name)
    os.makedirs(d)
    svc = f"image = {REG}/{repo}\nversion = 1"
    if verify:
        svc += f"\nverify = {verify}"
    cfg = harness.config(d, {"app": svc}, {REG: "insecure = true"}, dict({"timeout": 5}, **(settings or {})))
    return d, cfg


def resolve(cfg, *extra):
    return harness.run([bp, "-c", cfg, "--platform", "linux/arm64", "--json", "resolve", *extra])


def lock_of(d):
    p = os.path.join(d, "state", "lock.json")
    return json.load(open(p))["services"].get("app") if os.path.exists(p) else None


def accepted(name, repo, verify, key, fmt, signed):
    d, cfg = setup_case(name, repo, verify)
    rc, doc, err = resolve(cfg)
    e = lock_of(d)
    ok = rc == 0 and e and e["pin"]["digest"] == ARM64 and e["pin"].get("verified") == {
        "key": fingerprint(key), "format": fmt, "digest": signed}
    out = [(f"{name}: signed, pinned, lock says what verified it", ok, (rc, err, e))]
    if ok:
        again = resolve(cfg)
        out.append((f"{name}: an unchanged run makes one HEAD and nothing else", again.rc == 0 and
                    again.doc["requests"] == {"head": 1, "get": 0, "blob": 0, "tag_pages": 0, "token": 0},
                    (again.rc, again.doc, again.err)))
        st = harness.run([bp, "-c", cfg, "--platform", "linux/arm64", "--json", "status"])
        svc = st.doc["services"][0] if st.doc else {}
        out.append((f"{name}: status says verified, and by what", svc.get("signature") == "verified" and
                    svc.get("verified") == e["pin"]["verified"], (st.rc, st.doc, st.err)))
    if ok and name == "classic":
        _, other = setup_case("classic-key2", repo, KEY2, {"state_dir": os.path.join(d, "state"),
                                                          "env_dir": os.path.join(d, "env")})
        st = harness.run([bp, "-c", other, "--platform", "linux/arm64", "status"])
        out.append(("status flags a pin whose key is no longer listed",
                    "is no longer listed in verify =" in st.out, (st.rc, st.out, st.err)))
        r = resolve(other)
        out.append(("resolve checks that pin again, names it (exit 1) and marks it unverified", r.rc == 1 and
                    "1 by an unknown key" in r.doc["services"][0].get("error", "") and
                    lock_of(d)["pin"]["digest"] == ARM64 and lock_of(d)["pin"].get("unverified") is True,
                    (r.rc, r.doc, r.err, lock_of(d))))
        r = resolve(other)
        out.append(("after that check, an unchanged run makes one HEAD", r.rc == 1 and
                    r.doc["requests"] == {"head": 1, "get": 0, "blob": 0, "tag_pages": 0, "token": 0},
                    (r.rc, r.doc, r.err)))
    return out


def refused(name, repo, verify, words):
    d, cfg = setup_case(name, repo, verify)
    rc, doc, err = resolve(cfg)
    line = doc["services"][0].get("error", "") if doc else ""
    return [(f"{name}: refused, nothing pinned, one line", rc == 1 and lock_of(d) is None and
             not os.path.exists(os.path.join(d, "env", "app.env")) and all(w in line for w in words),
             (rc, line, err))]


def boot_case():
    """boot resolves what the lock cannot answer, under the same rule; what the lock answers is not
    checked again, and needs no network at all."""
    out = []
    d, cfg = setup_case("boot-unsigned", "signed/unsigned", KEY1, {"boot_wait": 0})
    b = harness.run([bp, "-c", cfg, "--platform", "linux/arm64", "boot"])
    out.append(("boot: an unsigned first pin is refused (exit 1), no env file",
                b.rc == 1 and "is not signed by a trusted key" in b.err and lock_of(d) is None and
                not os.path.exists(os.path.join(d, "env", "app.env")), (b.rc, b.err)))
    d, cfg = setup_case("boot-signed", "signed/app", KEY1, {"boot_wait": 0})
    b = harness.run([bp, "-c", cfg, "--platform", "linux/arm64", "boot"])
    e = lock_of(d)
    out.append(("boot: a signed first pin is taken, with what verified it", b.rc == 0 and e and
                e["pin"].get("verified", {}).get("digest") == INDEX, (b.rc, b.err, e)))
    os.remove(os.path.join(d, "env", "app.env"))
    b = harness.run([bp, "-c", cfg, "--platform", "linux/arm64", "boot"], net=False)
    out.append(("boot: the lock answers offline, without checking again", b.rc == 0 and
                os.path.exists(os.path.join(d, "env", "app.env")), (b.rc, b.err)))
    return out


def mirror_case():
    """A mirror with the image and none of its signatures (404): the registry is asked for them, and the
    mirror is not given up on (no warning); the bundle comes from the registry's referrers tag."""
    host = f"127.0.0.1:{mirror_port}"
    push_image("signed/bundle", "1", build_image(""), host)
    d = os.path.join(top, "mirror")
    os.makedirs(d)
    cfg = harness.config(d, {"app": f"image = {REG}/signed/bundle\nversion = 1\nverify = {KEY1}"},
                         {REG: f"insecure = true\nmirror = http://{host}"}, {"timeout": 5})
    rc, doc, err = resolve(cfg)
    e = lock_of(d)
    return [("mirror: signatures it does not have are asked of the registry; the mirror is kept",
             rc == 0 and e and e["pin"].get("verified", {}).get("format") == "bundle" and "mirror" not in err,
             (rc, err, e))]


def key_refused_case():
    """A key that is private, or writable by others, is a config error (exit 2) naming the config's file:line,
    for resolve and for upgrade; nothing is written."""
    out = []
    d = os.path.join(top, "keys")
    os.makedirs(d)
    private = os.path.join(d, "private.pem")
    shutil.copy(OWN_PRIV, private)
    os.chmod(private, 0o600)
    loose = os.path.join(d, "loose.pub")
    shutil.copy(KEY1, loose)
    os.chmod(loose, 0o666)
    for name, key, word in (("private", private, "private"), ("loose", loose, "writable")):
        dd, cfg = setup_case("key-" + name, "signed/app", key)
        line = next(i + 1 for i, l in enumerate(open(cfg)) if l.startswith("verify ="))
        rc, doc, err = resolve(cfg)
        out.append((f"resolve: a {name} key is refused with file:line, exit 2, nothing pinned",
                    rc == 2 and f"{cfg}:{line}: verify: " in err and word in err and lock_of(dd) is None,
                    (rc, doc, err)))
        rc, doc, err = harness.run([bp, "-c", cfg, "--platform", "linux/arm64", "--json", "upgrade"])
        out.append((f"upgrade: a {name} key is refused with file:line, exit 2, nothing pinned",
                    rc == 2 and f"{cfg}:{line}: verify: " in err and word in err and lock_of(dd) is None,
                    (rc, doc, err)))
    return out


def inspect_case():
    out = []
    ref = f"{REG}/signed/app:1"
    i = harness.run([bp, "--platform", "linux/arm64", "inspect", "--insecure", "--verify", KEY2, "--verify", KEY1, ref])
    out.append(("inspect --verify: each signature, where it came from, and the verdict (exit 0)",
                i.rc == 0 and "registry .sig tag simple-signing" in i.out and "verified " + fingerprint(KEY1) in i.out
                and f"{INDEX[:19]}… is signed by {fingerprint(KEY1)}" in i.out, (i.rc, i.out, i.err)))
    i = harness.run([bp, "--platform", "linux/arm64", "inspect", "--insecure", "--json", "--verify", KEY1,
                     f"{REG}/signed/provenance:1"])
    sig = (i.doc or {}).get("signatures", {})
    out.append(("inspect --verify --json: a provenance attestation is found and is no approval (exit 1)",
                i.rc == 1 and not sig.get("verified") and
                [(f["source"], f["format"], f["outcome"]) for f in sig.get("found", [])] ==
                [("registry referrers tag", "bundle", "not_approval")], (i.rc, i.out, i.err)))
    return out


def upgrade_case():
    out = []
    repo = "upgrade/u"
    d, cfg = setup_case("upgrade", repo, OWN_PUB)
    old = push_image(repo, "1", build_image("upgrade one\n"))
    sign_openssl(repo, old, OWN_PRIV)
    rc, doc, err = resolve(cfg)
    first = lock_of(d)
    out.append(("upgrade: the signed first digest is pinned", rc == 0 and first and
                first["index_digest"] == old and first["pin"]["verified"]["digest"] == old, (rc, err, first)))
    env_before = open(os.path.join(d, "env", "app.env")).read() if rc == 0 else ""
    new = push_image(repo, "1", build_image("upgrade two\n"))
    u = harness.run([bp, "-c", cfg, "--platform", "linux/arm64", "--json", "upgrade"])
    e = lock_of(d)
    item = u.doc["services"][0] if u.doc else {}
    out.append(("upgrade: an unsigned new digest is held, code unsigned, not bad-listed, nothing switched",
                u.rc == 0 and item.get("action") == "held" and item.get("hold") == "unsigned" and
                e["index_digest"] == old and not e.get("bad") and e["held"]["code"] == "unsigned" and
                "is not signed by a trusted key" in e["held"]["reason"] and
                open(os.path.join(d, "env", "app.env")).read() == env_before, (u.rc, item, u.err, e)))
    out.append(("upgrade: the hold is told at warning priority", "is not signed by a trusted key" in u.err,
                u.err))
    r = resolve(cfg)
    out.append(("resolve: the unsigned new digest fails the service, the pin and env file stay",
                r.rc == 1 and lock_of(d)["index_digest"] == old and
                "is not signed by a trusted key (no signatures found" in r.doc["services"][0].get("error", "") and
                open(os.path.join(d, "env", "app.env")).read() == env_before, (r.rc, r.doc, r.err)))
    sign_openssl(repo, new, OWN_PRIV)
    u = harness.run([bp, "-c", cfg, "--platform", "linux/arm64", "--json", "upgrade"])
    e = lock_of(d)
    out.append(("upgrade: once signed, the new digest is taken and its signature recorded",
                u.rc == 0 and e["index_digest"] == new and e["pin"]["verified"]["digest"] == new and
                "held" not in e, (u.rc, u.doc, u.err, e)))
    return out


def turned_on_case():
    """verify = set over a pin made without it: checked once, marked, never asked again."""
    out = []
    repo = "later/u"
    push_image(repo, "1", build_image("later\n"))
    d, cfg = setup_case("later", repo, None)
    rc, _, err = resolve(cfg)
    out.append(("later: pinned without verify", rc == 0, err))
    _, cfg = setup_case("later-on", repo, OWN_PUB, {"state_dir": os.path.join(d, "state"),
                                                    "env_dir": os.path.join(d, "env")})
    env_before = open(os.path.join(d, "env", "app.env")).read()
    u = harness.run([bp, "-c", cfg, "--platform", "linux/arm64", "--json", "upgrade"])
    e = lock_of(d)
    out.append(("later: upgrade checks the pin once, holds it (exit 0), marks it unverified, keeps the env file",
                u.rc == 0 and e["pin"].get("unverified") is True and u.doc["services"][0]["hold"] == "unsigned" and
                open(os.path.join(d, "env", "app.env")).read() == env_before, (u.rc, u.doc, u.err, e)))
    r = resolve(cfg)
    out.append(("later: resolve names the unverified pin (exit 1) with one HEAD",
                r.rc == 1 and "unverified" in r.doc["services"][0].get("error", "") and
                r.doc["requests"] == {"head": 1, "get": 0, "blob": 0, "tag_pages": 0, "token": 0}, (r.rc, r.doc)))
    st = harness.run([bp, "-c", cfg, "--platform", "linux/arm64", "status"])
    out.append(("later: status shows it unverified", "unverified" in st.out, (st.rc, st.out, st.err)))
    return out


def cost_case():
    """What verification adds to a cold run of four services, beside the same run without it: the signatures
    of each index; a child's only when its index is not signed (signed/child); and the referrers API asked
    once for the whole registry, which has none (Debian's docker-registry 2.8)."""
    repos = {"app": "signed/app", "bundle": "signed/bundle", "child": "signed/child", "skopeo": "signed/skopeo"}
    got = {}
    for verify in (None, KEY1):
        d = os.path.join(top, "cost-" + ("on" if verify else "off"))
        os.makedirs(d)
        svcs = {n: f"image = {REG}/{r}\nversion = 1" + (f"\nverify = {verify}" if verify else "")
                for n, r in repos.items()}
        cfg = harness.config(d, svcs, {REG: "insecure = true"}, {"timeout": 5})
        got[verify] = resolve(cfg)
    off, on = got[None], got[KEY1]
    ok = off.rc == 0 and on.rc == 0
    extra = {k: on.doc["requests"][k] - off.doc["requests"][k] for k in on.doc["requests"]} if ok else None
    # .sig tag and referrers tag of each index (8 gets), the classic payloads of app and skopeo and the bundle
    # of bundle (3 blobs, with bundle's referrer manifest: 1 get); child: its index found unsigned, then
    # its own two tags (2 gets) and payload (1 blob); and one referrers API request in all (1 get).
    return [("cost: cold, verify on, beside off: index signatures, a child's only when needed, one referrers "
             "API probe for the registry", extra == {"head": 0, "get": 12, "blob": 4, "tag_pages": 0, "token": 0},
             (extra, on.rc, on.err, off.rc, off.err))]


top = tempfile.mkdtemp(prefix="bp-verify-")
registry = start_registry(top)
mirror_port = harness_free_port()
mirror = start_registry(top, mirror_port)
try:
    fixture = build_image("")
    for repo in ("signed/app", "signed/child", "signed/rotated", "signed/bundle", "signed/provenance",
                 "signed/skopeo", "signed/unsigned", "signed/copied"):
        got = push_image(repo, "1", fixture)
    check("fixture: the image rebuilt is the one the signatures are over", got == INDEX, (got, INDEX))
    push_sig("signed/app", "classic-index", "sig-manifest.json", INDEX)
    push_sig("signed/child", "classic-child", "sig-manifest.json", ARM64)
    push_sig("signed/rotated", "rotated", "sig-manifest.json", INDEX)
    push_sig("signed/skopeo", "skopeo", "sig-manifest.json", INDEX)
    push_sig("signed/skopeo", "skopeo", "sig-manifest-arm64.json", ARM64)
    push_sig("signed/copied", "classic-index", "sig-manifest.json", INDEX)  # names signed/app
    push_bundle("signed/bundle", "bundle", INDEX)
    push_bundle("signed/provenance", "bundle-provenance", INDEX)

    jobs = [
        lambda: accepted("classic", "signed/app", KEY1, KEY1, "simple-signing", INDEX),
        lambda: accepted("bundle", "signed/bundle", KEY1, KEY1, "bundle", INDEX),
        lambda: accepted("skopeo", "signed/skopeo", KEY1, KEY1, "simple-signing", INDEX),
        lambda: accepted("child", "signed/child", KEY1, KEY1, "simple-signing", ARM64),
        lambda: accepted("two-keys", "signed/app", f"{KEY2} {KEY1}", KEY1, "simple-signing", INDEX),
        lambda: accepted("rotated", "signed/rotated", KEY2, KEY2, "simple-signing", INDEX),
        lambda: refused("unsigned", "signed/unsigned", KEY1, ["is not signed by a trusted key",
                                                               "no signatures found"]),
        lambda: refused("unknown-key", "signed/app", KEY2, ["is not signed by a trusted key",
                                                            "1 by an unknown key"]),
        lambda: refused("provenance", "signed/provenance", KEY1, ["is not signed by a trusted key"]),
        lambda: refused("copied", "signed/copied", KEY1, ["is not signed by a trusted key"]),
        upgrade_case,
        turned_on_case,
        inspect_case,
        key_refused_case,
        mirror_case,
        boot_case,
        cost_case,
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for results in pool.map(lambda f: f(), jobs):
            for name, ok, detail in results:
                check(name, ok, detail)
finally:
    for p in (registry, mirror):
        p.kill()
        p.wait()
    shutil.rmtree(top, ignore_errors=True)
harness.done()
