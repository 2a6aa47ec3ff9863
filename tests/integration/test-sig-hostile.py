#!/usr/bin/python3
"""test-sig-hostile.py BOARDPIN WORKDIR ROOTS: signatures that must not let a digest be pinned.

The signatures are the real ones of tests/fixtures/signatures (trixie's cosign 2.5 and skopeo 1.18),
pushed by sigseed.py to Debian's docker-registry on 127.0.0.1:5055, the address their payloads name, and
hostile variants of them: a valid signature over another digest, one copied from another repository, one
by a key the config does not list, a flipped byte in the payload, the signature or the DSSE payload type
(classic form and bundle), a truncated and a non-DER (raw r||s) signature, an Ed25519 signature offered
to ECDSA keys, 100 referrers, a 100 MiB signature blob (faultserver.py's bigsig modes: said in the
descriptor, and hidden behind a descriptor of 241 bytes), a mirror that serves a valid signature for
another digest, and a mirror that hides the signatures.

Every case starts from a verified pin of an earlier release (signed/app:old, signed with openssl and
keys/p256-private.pem as cosign signs); the hostile run is `resolve` with the service moved to the hostile
image: exit 1, one line naming why, and lock.json and the env files byte for byte as before. Controls show
that each refusal is the hostile part's doing: the untouched signature verifies (classic, bundle, Ed25519
with its own key), and behind a mirror that hides the signatures the registry is asked and the image is
pinned, and the next upgrade holds nothing. And the same attack through upgrade: a tag moved to a digest
signed for another repository is held with code `unsigned` (exit 0), its env files and pin kept, the
digest not bad-listed.

Independent cases run side by side, one directory each; the cases that change signed/app's signature tag
run one after another in one row. Arguments after the three name rows to run alone (row_copied ...).
Ends with 'N passed, N failed'."""
import atexit, base64, json, os, re, shutil, socket, subprocess, sys, threading, time, traceback, urllib.request
from concurrent.futures import ThreadPoolExecutor

import harness
import sigseed
from sigseed import HOST, sig_tag, referrers_tag

bp, work, roots, env = harness.args()
here = os.path.dirname(os.path.abspath(__file__))
FAULT = env["FAULT_PLAIN"]
PLATFORM = "linux/arm64"
WORKERS = 4     # a run is short; more would only crowd a small machine
SUMMARY = "not signed by a trusted key"
rows = threading.local()


def check(name, ok, detail=""):
    rows.checks.append((name, ok, detail))


def note(line):
    rows.lines.append(line)


# Keys where a key must be: not writable by group or others, whatever the checkout's umask was.
keydir = os.path.join(work, "sigkeys")
os.makedirs(keydir, exist_ok=True)
KEYS = {}
for name, src in (("key1", "key1.pub"), ("key2", "key2.pub"), ("p256", "keys/p256.pub"),
                  ("ed25519", "keys/ed25519.pub")):
    KEYS[name] = os.path.join(keydir, name + ".pub")
    shutil.copyfile(os.path.join(sigseed.FIXTURES, src), KEYS[name])
    os.chmod(KEYS[name], 0o644)
FP = {name: sigseed.fingerprint(path) for name, path in KEYS.items()}
P256_PRIVATE = os.path.join(sigseed.FIXTURES, "keys", "p256-private.pem")

try:
    reg = sigseed.start(work)
except RuntimeError as e:
    harness.check("signature registry on 127.0.0.1:5055 comes up", False, e)
    harness.done()
atexit.register(reg.stop)     # also when what follows dies: the next test may need the port
try:
    img = sigseed.seed_fixtures(reg)
except (RuntimeError, OSError) as e:
    harness.check("signature fixtures pushed as fetched", False, e)
    harness.done()
INDEX, ARM64 = img["index"], img["arm64"]
INDEX_SIZE = len(sigseed.image_blobs()[0][INDEX])

# The release every case has pinned before: signed for signed/app with p256, as cosign signs.
OLD = reg.push_single("signed/app", ["old"], "boardpin signature fixture, the previous release\n")
old_payload = sigseed.payload(f"{HOST}/signed/app", OLD)
old_sig = base64.b64encode(sigseed.openssl_sign(P256_PRIVATE, old_payload)).decode()
reg.push_signatures("signed/app", OLD, *sigseed.sig_manifest([(old_payload, old_sig)]))
# An unrelated, unsigned image, at whose signature tag a signature over another digest is put.
OTHER = reg.push_single("signed/app", ["z"], "boardpin signature fixture, another image\n")
reg.push_single("signed/rotated", ["z"], "boardpin signature fixture, another image\n")

CLASSIC_MANIFEST = sigseed.fixture("classic-index", "sig-manifest.json")
CLASSIC_LAYER = json.loads(CLASSIC_MANIFEST)["layers"][0]
CLASSIC_PAYLOAD = sigseed.fixture("classic-index", CLASSIC_LAYER["digest"].replace(":", "-"))
CLASSIC_SIG = CLASSIC_LAYER["annotations"][sigseed.SIG_ANNOTATION]
BUNDLE_DOC = json.loads(sigseed.fixture("bundle", "bundle-manifest.json"))
BUNDLE = sigseed.fixture("bundle", BUNDLE_DOC["layers"][0]["digest"].replace(":", "-"))


def classic_blobs():
    """classic-index's .sig manifest and blobs, as pushed by seed_fixtures()."""
    blobs = {CLASSIC_LAYER["digest"]: CLASSIC_PAYLOAD}
    config = sigseed.cosign_config([CLASSIC_LAYER["digest"]])
    blobs[sigseed.sha(config)] = config
    return CLASSIC_MANIFEST, blobs


def flip(data, at, bit=0x01):
    b = bytearray(data)
    b[at] ^= bit
    return bytes(b)


def der_to_raw(der):
    """An ECDSA DER signature as the 64 bytes r||s (IEEE P1363): the same numbers, not DER."""
    assert der[0] == 0x30 and der[2] == 0x02
    rlen = der[3]
    r = der[4:4 + rlen]
    s = der[4 + rlen + 2:]
    return r.lstrip(b"\0").rjust(32, b"\0") + s.lstrip(b"\0").rjust(32, b"\0")


def bundle_with(payload=None, sig=None, payload_type=None):
    """The fixture bundle with its DSSE payload, signature or payload type replaced; the other bytes kept."""
    doc = json.loads(BUNDLE)
    env_ = doc["dsseEnvelope"]
    out = BUNDLE
    if payload is not None:
        out = out.replace(env_["payload"].encode(), base64.b64encode(payload))
    if sig is not None:
        out = out.replace(env_["signatures"][0]["sig"].encode(), base64.b64encode(sig))
    if payload_type is not None:
        out = out.replace(b'"payloadType":"%s"' % env_["payloadType"].encode(), b'"payloadType":"%s"' % payload_type)
    if out == BUNDLE:
        raise RuntimeError("bundle_with: nothing replaced")
    return out


def push_bundles(repo, bundles):
    """The image at repo:1, and a referrers tag listing one cosign-shaped manifest per bundle."""
    reg.push_image(repo, ["1"])
    manifests, blobs = [], {}
    for i, b in enumerate(bundles):
        m, bl = sigseed.bundle_manifest(b, INDEX, INDEX_SIZE, note=str(i) if len(bundles) > 1 else None)
        manifests.append(m)
        blobs.update(bl)
    reg.put_blobs(repo, blobs)
    with ThreadPoolExecutor(max_workers=4) as pool:    # 100 PUTs one by one take seconds on a busy machine
        list(pool.map(lambda m: reg.put_manifest(repo, sigseed.sha(m), m), manifests))
    reg.put_manifest(repo, referrers_tag(INDEX), sigseed.referrers_index(manifests))


# ---------------------------------------------------------------------------------------------------
# running boardpin

def case_dir(name):
    d = os.path.join(work, "sig-" + name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def service(image, version, keys, extra=""):
    return (f"image = {image}\nversion = {version}\nverify = {' '.join(KEYS[k] for k in keys)}\n" + extra).strip()


def resolve(d, svc, registries=None, name="boardpin.ini", cmd="resolve"):
    cfg = harness.config(d, {"web": svc}, registries or {HOST: "insecure = true"}, {"timeout": 5}, name=name)
    return harness.run([bp, "-c", cfg, "--platform", PLATFORM, "--json", cmd], timeout=120)


def files(d):
    """lock.json and every env file, as bytes."""
    out = {}
    for sub in ("state/lock.json", "env"):
        p = os.path.join(d, sub)
        if os.path.isdir(p):
            for f in sorted(os.listdir(p)):
                out[f"env/{f}"] = open(os.path.join(p, f), "rb").read()
        elif os.path.exists(p):
            out[sub] = open(p, "rb").read()
    return out


def lock_of(d):
    try:
        return open(os.path.join(d, "state", "lock.json")).read()
    except OSError:
        return ""


def pin_of(d):
    """The lock's entry for web, {} when there is none."""
    try:
        return json.loads(lock_of(d))["services"]["web"]
    except (ValueError, KeyError, TypeError):
        return {}


def web(doc):
    for s in (doc or {}).get("services") or []:
        if s.get("name") == "web":
            return s
    return {}


def prior(d, keys):
    """The earlier release pinned and verified in d: the state a hostile run must leave as it is."""
    r = resolve(d, service(f"{HOST}/signed/app", "old", keys), name="prior.ini")
    snap = files(d)
    ok = r.rc == 0 and web(r.doc).get("digest") == OLD and FP["p256"] in lock_of(d) and \
        any(OLD in v.decode() for k, v in snap.items() if k.startswith("env/"))
    return snap if ok else None, r


def prepared(name, keys):
    """A case directory with the earlier release pinned: (directory, prior()'s answer)."""
    d = case_dir(name)
    return d, prior(d, keys)


def refused(label, d, before, r, want=SUMMARY, digests=(INDEX, ARM64)):
    """The hostile run r in d: exit 1, one line naming why (matching want) and the digest, nothing written."""
    s = web(r.doc)
    e = s.get("error") or ""
    note(f"{label}: {e or r.err}")
    # the same line on stderr, for the journal: one line a person can act on
    one_line = e != "" and "\n" not in e and any(e in line for line in r.err.splitlines())
    named = not digests or any(dg[7:19] in e for dg in digests)
    check(f"{label}: refused, exit 1, one line",
          r.rc == 1 and s.get("status") == "error" and one_line and named and re.search(want, e),
          (r.rc, s, r.err[-600:]))
    after = files(d)
    check(f"{label}: lock and env files unchanged", after == before,
          {k: (before.get(k, b"")[-200:], after.get(k, b"")[-200:]) for k in set(before) | set(after)
           if before.get(k) != after.get(k)})


def hostile(label, name, image, version, keys=("key1", "p256"), registries=None, want=SUMMARY,
            digests=(INDEX, ARM64), prior_keys=None, ready=None):
    """ready: (directory, prior()'s answer) made beforehand, for rows that cannot wait for it."""
    d, (before, r0) = ready or prepared(name, prior_keys or keys)
    if before is None:
        check(f"{label}: the earlier release pinned and verified first", False,
              (r0.rc, web(r0.doc), r0.err[-600:]))
        return d, None
    r = resolve(d, service(image, version, keys), registries)
    refused(label, d, before, r, want, digests)
    return d, r


def verified(label, name, image, version, keys, fp, form, registries=None):
    """A run that must pin the arm64 child, the lock saying which key verified which digest in which form."""
    d = case_dir(name)
    r = resolve(d, service(image, version, keys), registries)
    s = web(r.doc)
    v = (pin_of(d).get("pin") or {}).get("verified") or {}
    check(f"{label}: pinned, the lock says by which key, over which digest, in which form",
          r.rc == 0 and s.get("status") == "ok" and s.get("digest") == ARM64 and
          v == {"key": fp, "format": form, "digest": INDEX}, (r.rc, s, r.err[-600:], lock_of(d)[-600:]))
    return d, r


# ---------------------------------------------------------------------------------------------------
# the rows

def row_classic():
    """signed/app's signature tag of the index, changed from case to case, so one after another."""
    app = f"{HOST}/signed/app"
    reg.push_signatures("signed/app", INDEX, *classic_blobs())
    verified("classic, as cosign signed it (control)", "classic-ok", app, "1", ("key1", "p256"), FP["key1"],
             "simple-signing")
    hostile("a good signature by an unlisted key (config lists key2 and p256)", "unlisted", app, "1",
            keys=("key2", "p256"), want=SUMMARY + r".*unknown key")

    ed = base64.b64encode(sigseed.fixture("keys", "ed25519.sig")).decode()
    reg.push_signatures("signed/app", INDEX, *sigseed.sig_manifest([(CLASSIC_PAYLOAD, ed)]))
    verified("an Ed25519 signature, with its own key (control)", "ed25519-ok", app, "1", ("ed25519",),
             FP["ed25519"], "simple-signing")
    hostile("an Ed25519 signature offered to ECDSA keys", "ed25519", app, "1")

    der = base64.b64decode(CLASSIC_SIG)
    at = CLASSIC_PAYLOAD.index(b"container image signature")
    variants = [
        ("a flipped byte in the payload", "flip-payload", flip(CLASSIC_PAYLOAD, at, 0x20), CLASSIC_SIG),
        ("a flipped byte in the signature", "flip-sig", CLASSIC_PAYLOAD,
         base64.b64encode(flip(der, len(der) - 10)).decode()),
        ("a truncated signature", "truncated", CLASSIC_PAYLOAD, base64.b64encode(der[:-8]).decode()),
        ("a non-DER signature (the same r and s, raw)", "raw-rs", CLASSIC_PAYLOAD,
         base64.b64encode(der_to_raw(der)).decode()),
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:    # the earlier pins do not touch the tag
        ready = list(pool.map(lambda v: prepared(v[1], ("key1", "p256")), variants))
    for (label, name, pl, sig), rd in zip(variants, ready):
        reg.push_signatures("signed/app", INDEX, *sigseed.sig_manifest([(pl, sig)]))
        hostile(label + " (classic)", name, app, "1", ready=rd)
    reg.push_signatures("signed/app", INDEX, *classic_blobs())


def row_other_digest():
    # classic-index's .sig (a valid signature over the index, for signed/app) at the tag of another image
    reg.push_signatures("signed/app", OTHER, *classic_blobs())
    hostile("a valid signature over another digest, at this digest's .sig tag", "other-digest",
            f"{HOST}/signed/app", "z", digests=(OTHER,))


def row_copied():
    reg.push_image("signed/copy", ["1"])
    reg.push_signatures("signed/copy", INDEX, *classic_blobs())
    hostile("a signature copied from another repository (signed/app's, in signed/copy)", "copied",
            f"{HOST}/signed/copy", "1")


def row_bundle_ok():
    verified("bundle, as cosign signed it (control)", "bundle-ok", f"{HOST}/signed/bundle", "1",
             ("key1", "p256"), FP["key1"], "bundle")
    hostile("a good bundle by an unlisted key (config lists key2 and p256)", "bundle-unlisted",
            f"{HOST}/signed/bundle", "1", keys=("key2", "p256"), want=SUMMARY + r".*unknown key")


def row_bundle_flips():
    doc = json.loads(BUNDLE)
    statement = base64.b64decode(doc["dsseEnvelope"]["payload"])
    sig = base64.b64decode(doc["dsseEnvelope"]["signatures"][0]["sig"])
    at = statement.index(b"signed/bundle")
    cases = [
        ("a flipped byte in the DSSE payload (bundle)", "b-payload", bundle_with(payload=flip(statement, at, 0x20))),
        ("a flipped byte in the DSSE signature (bundle)", "b-sig", bundle_with(sig=flip(sig, len(sig) - 10))),
        ("a flipped byte in the DSSE payload type (bundle)", "b-type",
         bundle_with(payload_type=flip(doc["dsseEnvelope"]["payloadType"].encode(), -1, 0x20))),
        ("a truncated DSSE signature (bundle)", "b-truncated", bundle_with(sig=sig[:-8])),
    ]
    for label, name, b in cases:
        push_bundles(f"signed/{name}", [b])
        hostile(label, name, f"{HOST}/signed/{name}", "1")


def row_many_referrers():
    push_bundles("signed/many", [BUNDLE] * 100)
    hostile("100 referrers (valid bundles, past the 16 candidates)", "many", f"{HOST}/signed/many", "1",
            want=r"16|too many|more than")


def big_sent(mode, mark):
    """Bytes of the big blob that faultserver.py wrote to boardpin since the log was mark bytes long."""
    sent = 0
    with open(env["FAULT_LOG"]) as f:
        f.seek(mark)
        for line in f:
            e = json.loads(line)
            if e.get("mode") == mode and e.get("user_agent", "").startswith("boardpin/"):
                sent += e.get("sent", 0)
    return sent


def row_big(mode, label):
    t0 = time.monotonic()
    mark = os.path.getsize(env["FAULT_LOG"])
    regs = {HOST: "insecure = true", FAULT: "insecure = true"}
    d, r = hostile(label, mode, f"{FAULT}/fault/{mode}", "1.0", registries=regs,
                   want=r"65536|64 KiB|too (big|large)|over|" + SUMMARY, digests=())
    sent = big_sent(mode, mark)
    check(f"{label}: not downloaded whole ({sent} bytes sent), refused in {time.monotonic() - t0:.1f} s",
          r is not None and sent < 32 * 1024 * 1024 and r.took < 30, (sent, r and r.took))


def stop_proc(proc):
    if proc.poll() is None:
        proc.terminate()
        proc.wait()


def fault_mirror(name, fault):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    log = os.path.join(work, name + "-requests.log")
    open(log, "w").close()
    argv = [sys.executable, os.path.join(here, "faultserver.py"), "--port", str(port), "--log", log,
            "--mirror-of", f"http://{HOST}", "--mirror-fault", fault]
    proc = subprocess.Popen(argv, stdout=open(os.path.join(work, name + ".log"), "w"), stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    atexit.register(stop_proc, proc)
    deadline = time.time() + 15
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited during start-up (status {proc.returncode})")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_requests", timeout=2).read()
            return port, log
        except OSError:
            if time.time() > deadline:
                raise RuntimeError(f"{name}: no answer on 127.0.0.1:{port}")
            time.sleep(0.1)


def mirror_log(log):
    return [json.loads(l) for l in open(log) if l.strip()]


def row_mirror_swap():
    port, log = fault_mirror("sig-mirror-swap", f"swapsig:signed/rotated:{sig_tag(INDEX)}")
    regs = {HOST: f"insecure = true\nmirror = http://127.0.0.1:{port}"}
    hostile("a mirror serving a valid signature (signed/rotated's, over the index) for another digest",
            "mirror-swap", f"{HOST}/signed/rotated", "z", keys=("key1", "key2", "p256"), registries=regs,
            digests=(OTHER,))
    served = [e for e in mirror_log(log) if e["path"].endswith(sig_tag(OTHER)) and e["status"] == 200]
    check("a mirror serving a signature for another digest: it was asked and served one", served,
          mirror_log(log)[-6:])


def row_mirror_hide(form, repo):
    port, log = fault_mirror(f"sig-mirror-hide-{form}", "hidesig")
    regs = {HOST: f"insecure = true\nmirror = http://127.0.0.1:{port}"}
    mark = os.path.getsize(reg.log)
    label = f"a mirror hiding the signatures ({form})"
    d, r = verified(label, f"mirror-hide-{form}", f"{HOST}/{repo}", "1", ("key1",), FP["key1"],
                    "simple-signing" if form == "classic" else "bundle", regs)
    tag = sig_tag(INDEX) if form == "classic" else referrers_tag(INDEX)
    hidden = [e for e in mirror_log(log) if e["path"].endswith("/manifests/" + tag) and e["status"] == 404]
    with open(reg.log, errors="replace") as f:
        f.seek(mark)
        asked = [l for l in f if f"/v2/{repo}/manifests/{tag} " in l and "boardpin-test-mirror" not in l]
    check(f"{label}: the mirror said 404, then the registry was asked", hidden and asked,
          (mirror_log(log)[-6:], len(asked)))
    check(f"{label}: a 404 for a signature tag is not the mirror failing", "mirror" not in r.err, r.err[-600:])
    r2 = resolve(d, service(f"{HOST}/{repo}", "1", ("key1",)), regs, cmd="upgrade")
    s = web(r2.doc)
    check(f"{label}: the next upgrade keeps it, nothing held", r2.rc == 0 and s.get("digest") == ARM64 and
          not s.get("hold") and not pin_of(d).get("held") and FP["key1"] in lock_of(d), (r2.rc, s, r2.err[-600:]))


def row_mirror_referrers():
    """Through a mirror that has the referrers API: two services in one run, a bundle and a classic
    signature. The first referrers request waits for no one, the other waits for its answer and is then
    sent; a 200 means the referrers tag is never asked; a signed index means its child is never asked."""
    port, log = fault_mirror("sig-mirror-referrers", "referrers")
    regs = {HOST: f"insecure = true\nmirror = http://127.0.0.1:{port}"}
    d = case_dir("mirror-referrers")
    svcs = {"web": service(f"{HOST}/signed/bundle", "1", ("key1",)),
            "web2": service(f"{HOST}/signed/rotated", "1", ("key1",))}
    cfg = harness.config(d, svcs, regs, {"timeout": 5})
    r = harness.run([bp, "-c", cfg, "--platform", PLATFORM, "--json", "resolve"], timeout=120)
    pins = {n: (e.get("pin") or {}) for n, e in (json.loads(lock_of(d) or "{}").get("services") or {}).items()}
    check("a mirror with the referrers API: both pinned, the bundle found through the API",
          r.rc == 0 and pins.get("web", {}).get("verified", {}).get("format") == "bundle" and
          pins.get("web2", {}).get("verified", {}).get("format") == "simple-signing" and
          all(p.get("digest") == ARM64 for p in pins.values()), (r.rc, r.err[-600:], pins))
    seen = mirror_log(log)
    api = sorted(e["path"] for e in seen if "/referrers/" in e["path"])
    tags = [e["path"] for e in seen if e["path"].endswith("/manifests/" + referrers_tag(INDEX))]
    children = [e["path"] for e in seen if sig_tag(ARM64) in e["path"] or referrers_tag(ARM64) in e["path"]]
    check("a mirror with the referrers API: asked once per image, each answered 200",
          api == [f"/v2/signed/bundle/referrers/{INDEX}", f"/v2/signed/rotated/referrers/{INDEX}"] and
          all(e["status"] == 200 for e in seen if "/referrers/" in e["path"]), seen[-10:])
    check("a mirror with the referrers API: no referrers tag asked, no child's signatures asked",
          not tags and not children, (tags, children))


def row_upgrade_hold():
    """The tag moves to a digest whose signature is another repository's: upgrade holds it as unsigned."""
    repo = "signed/mv"
    before_digest = reg.push_single(repo, ["mv"], "boardpin signature fixture, the release before the move\n")
    pl = sigseed.payload(f"{HOST}/{repo}", before_digest)
    reg.push_signatures(repo, before_digest, *sigseed.sig_manifest(
        [(pl, base64.b64encode(sigseed.openssl_sign(P256_PRIVATE, pl)).decode())]))
    d = case_dir("upgrade-hold")
    svc = service(f"{HOST}/{repo}", "mv", ("key1", "p256"))
    r = resolve(d, svc)
    check("upgrade: the release before the move pinned and verified",
          r.rc == 0 and web(r.doc).get("digest") == before_digest, (r.rc, web(r.doc), r.err[-600:]))
    before = files(d)
    reg.push_image(repo, ["mv"])
    reg.push_signatures(repo, INDEX, *classic_blobs())     # signed/app's: a signature for another image
    r = resolve(d, svc, cmd="upgrade")
    s = web(r.doc)
    note(f"upgrade to a digest signed for another image: {s.get('action')} {s.get('hold')} {r.err}")
    after = files(d)
    check("upgrade to a digest signed for another image: held as unsigned, exit 0",
          r.rc == 0 and s.get("action") == "held" and s.get("hold") == "unsigned", (r.rc, s, r.err[-600:]))
    check("upgrade to a digest signed for another image: env files unchanged, the pin kept, the hold in the lock",
          {k: v for k, v in after.items() if k.startswith("env/")} ==
          {k: v for k, v in before.items() if k.startswith("env/")} and
          before_digest in lock_of(d) and '"unsigned"' in lock_of(d) and
          not any(dg in json.dumps(pin_of(d).get("bad")) for dg in (INDEX, ARM64)), lock_of(d)[-900:])


def record(fn, *a):
    rows.checks, rows.lines = [], []
    t0 = time.monotonic()
    try:
        fn(*a)
    except Exception:       # a row that dies is a failure of its own, the others still count
        rows.checks.append((f"{fn.__name__}{a}: ran to the end", False, traceback.format_exc()[-900:]))
    rows.lines.append(f"{fn.__name__}{a}: {time.monotonic() - t0:.1f} s")
    return rows.checks, rows.lines


jobs = [(row_classic,), (row_bundle_flips,), (row_many_referrers,), (row_other_digest,), (row_copied,),
        (row_bundle_ok,), (row_big, "bigsig", "a 100 MiB signature blob, said in its descriptor"),
        (row_big, "bigsiglie", "a 100 MiB signature blob behind a descriptor of 241 bytes"),
        (row_mirror_swap,), (row_mirror_hide, "classic", "signed/rotated"),
        (row_mirror_hide, "bundle", "signed/bundle"), (row_mirror_referrers,), (row_upgrade_hold,)]
# Rows named after the three arguments run alone: test-sig-hostile.py BOARDPIN WORKDIR ROOTS row_copied ...
if sys.argv[4:]:
    jobs = [j for j in jobs if j[0].__name__ in sys.argv[4:]]
with ThreadPoolExecutor(max_workers=WORKERS) as pool:
    futures = [pool.submit(record, *j) for j in jobs]
    lines = []
    for f in futures:
        checks, row_lines = f.result()
        for c in checks:
            harness.check(*c)
        lines += row_lines
for line in lines:
    print("sig-hostile: " + line)
harness.done()
