#!/usr/bin/python3
"""test-inspect.py BOARDPIN WORKDIR: `boardpin inspect` against the real registries and fault servers of
registry.sh (already started and seeded in WORKDIR). Expected digests come from the registry's own bytes
(expected.json, cross-checked by seed.sh with skopeo); here skopeo is asked again for the config of the
platform boardpin chose, and podman pulls what boardpin pinned. Ends with 'N passed, N failed'."""
import hashlib, json, os, re, ssl, subprocess, sys, tempfile, urllib.parse, urllib.request

import harness
from harness import check

bp, work, _, env = harness.args()
expected = json.load(open(os.path.join(work, "expected.json")))


def norm(p):
    """containerd's spelling: linux/arm64/v8 -> linux/arm64, linux/arm -> linux/arm/v7."""
    parts = p.split("/")
    if parts[1] in ("arm64", "aarch64") and len(parts) == 3 and parts[2] in ("v8", "8"):
        parts = parts[:2]
    if parts[1] == "arm" and len(parts) == 2:
        parts.append("v7")
    return "/".join(parts)


def order(target):
    """containerd's platforms.Only vector, as DESIGN.md states it."""
    o, a = target.split("/")[0], target.split("/")[1]
    if a == "arm64":
        return [target] + [f"{o}/arm/v{v}" for v in (8, 7, 6, 5)]
    if a == "arm":
        v = int(target.split("/")[2][1:])
        return [f"{o}/arm/v{w}" for w in range(v, 4, -1)]
    if a == "amd64":
        return [target, f"{o}/386"]
    return [target]


def inspect(ref, platform, *extra, timeout=30):
    r = harness.run([bp, "--json", "--platform", platform, "inspect", *extra, ref], timeout=timeout * 12)
    # stdout that is not UTF-8 or not JSON has no doc: a failure the checks will show
    return r.rc, r.doc if r.rc == 0 else None, r.err


REGS = {
    "plain": (env["REG_PLAIN"], ["--insecure"]),
    "basic": (env["REG_BASIC"], ["--ca-file", env["CA_FILE"], "--auth-file", env["AUTH_FILE"]]),
    "token": (env["REG_TOKEN"], ["--ca-file", env["CA_FILE"]]),                 # anonymous pull tokens
    "token-auth": (env["REG_TOKEN"], ["--ca-file", env["CA_FILE"], "--auth-file", env["AUTH_FILE"]]),
}
PLATFORMS = ["linux/amd64", "linux/arm/v6", "linux/arm/v7", "linux/arm64", "linux/386"]
IMAGES = ["test/multi:1.0", "test/multi:1.1", "test/multi-v2:1.0", "test/nov6:1.0", "test/single-amd64:1.0",
          "test/dup:1.0", "test/perarch:1.0-armv6", "test/perarch:1.0-raspberry", "test/perarch:1.0-aarch64"]

# 1. Every image, platform and registry flavour: boardpin's choice is the registry's own entry.
for flavour, (host, extra) in REGS.items():
    exp_images = expected["images"][flavour.split("-")[0]]
    for image in IMAGES:
        exp = exp_images[image]
        table = {norm(k): v for k, v in exp["platforms"].items()}
        is_index = "entries" in exp
        for plat in PLATFORMS:
            want = next((table[p] for p in order(plat) if p in table), None)
            rc, doc, err = inspect(f"{host}/{image}", plat, *extra)
            name = f"{flavour} {image} for {plat}"
            if want is None:
                check(f"{name}: refused", rc == 1 and "this board needs" in err and plat in err, f"exit {rc}: {err}")
                continue
            ok = (rc == 0 and doc is not None and doc["digest"] == want and doc["platforms"] == table and
                  doc["index_digest"] == (exp["digest"] if is_index else None))
            check(f"{name}: {want[:19]}", ok, f"exit {rc}: {err or json.dumps(doc)[:400]}")

# 2. A real peer agrees: skopeo's config for the platform is the config of the child boardpin chose.
def skopeo_config(ref, plat):
    os_, arch, *var = plat.split("/")
    cmd = ["skopeo", "inspect", "--tls-verify=false", "--config", "--raw", "--override-os", os_,
           "--override-arch", arch]
    if var:
        cmd += ["--override-variant", var[0]]
    p = subprocess.run(cmd + [f"docker://{ref}"], capture_output=True, timeout=60,
                       env=dict(os.environ, CONTAINERS_REGISTRIES_CONF=env["CONTAINERS_REGISTRIES_CONF"]))
    return "sha256:" + hashlib.sha256(p.stdout).hexdigest() if p.returncode == 0 else None

for image in ["test/multi:1.0", "test/multi-v2:1.0", "test/nov6:1.0"]:
    configs = expected["images"]["plain"][image]["configs"]
    for plat in ["linux/amd64", "linux/arm/v7", "linux/arm64"] + (["linux/arm/v6"] if "nov6" not in image else []):
        rc, doc, err = inspect(f"{env['REG_PLAIN']}/{image}", plat, "--insecure")
        peer = skopeo_config(f"{env['REG_PLAIN']}/{image}", plat if plat != "linux/arm64" else "linux/arm64/v8")
        mine = configs.get(doc["digest"], {}).get("digest") if doc else None
        check(f"skopeo agrees on {image} for {plat}", peer and peer == mine, f"skopeo {peer}, boardpin {mine}")

# 3. Publisher errors and impossible platforms, each one line naming the image.
reg = env["REG_PLAIN"]
rc, doc, err = inspect(f"{reg}/test/mislabeled:1.0", "linux/arm64", "--insecure")
check("mislabeled arm64 entry refused", rc == 1 and "config says linux/amd64" in err and "linux/arm64" in err, err)
rc, doc, err = inspect(f"{reg}/test/nov6:1.0", "linux/arm/v6", "--insecure")
check("no arm/v6: lists offers and needs", rc == 1 and "offers linux/amd64, linux/arm/v7, linux/arm64" in err
      and "needs linux/arm/v6, linux/arm/v5" in err, err)
rc, doc, err = inspect(f"{reg}/test/single-amd64:1.0", "linux/arm/v6", "--insecure")
check("single amd64 image on a Pi Zero", rc == 1 and "is linux/amd64 only; this board needs linux/arm/v6" in err, err)
rc, doc, err = inspect(f"{reg}/test/dup:1.0", "linux/arm/v7", "--insecure")
dup_first = next(e["digest"] for e in expected["images"]["plain"]["test/dup:1.0"]["entries"]
                 if norm(e["platform"]) == "linux/arm/v7")
check("duplicate entries: the first wins", rc == 0 and doc["digest"] == dup_first, err)
child = expected["images"]["plain"]["test/multi:1.0"]["platforms"]["linux/arm/v7"]
rc, doc, err = inspect(f"{reg}/test/multi@{child}", "linux/arm/v7", "--insecure")
check("by digest: a single image", rc == 0 and doc["digest"] == child and doc["index_digest"] is None, err)
rc, doc, err = inspect(f"{reg}/test/multi:9.9", "linux/arm/v7", "--insecure")
check("unknown tag: 404 named", rc == 1 and "not found (HTTP 404)" in err and "test/multi:9.9" in err, err)
rc, doc, err = inspect(f"{env['REG_BASIC']}/test/multi:1.0", "linux/arm/v7", "--ca-file", env["CA_FILE"])
check("Basic registry without credentials", rc == 1 and "auth file has none" in err, err)
rc, doc, err = inspect(f"{env['REG_BASIC']}/test/multi:1.0", "linux/arm/v7", "--auth-file", env["AUTH_FILE"])
check("TLS verification stays on without the CA", rc == 1 and "certificate" in err.lower(), err)

# 4. Request economy on the token registry: one token for the scope, no HEAD, 2 manifest GETs and 1 blob.
open(env["TOKEN_LOG"], "w").close()
rc, doc, err = inspect(f"{env['REG_TOKEN']}/test/multi:1.0", "linux/arm/v7", "--ca-file", env["CA_FILE"])
tokens = sum(1 for _ in open(env["TOKEN_LOG"]))
check("token registry: one token request", rc == 0 and doc["requests"] == {"head": 0, "get": 2, "blob": 1, "token": 1}
      and tokens == 1, f"{err} {doc and doc['requests']} log={tokens}")

# 4b. docker's "identitytoken" (an OAuth2 refresh token) is exchanged by POST, never sent as a password.
form = urllib.parse.urlencode({"grant_type": "password", "username": env["REG_USER"], "password": env["REG_PASSWORD"],
                               "service": env["TOKEN_SERVICE"], "client_id": "test", "access_type": "offline",
                               "scope": "repository:test/multi:pull"}).encode()
ctx = ssl.create_default_context(cafile=env["CA_FILE"])
refresh = json.load(urllib.request.urlopen(env["TOKEN_REALM"], data=form, context=ctx))["refresh_token"]
with tempfile.NamedTemporaryFile("w", suffix=".json") as af:
    json.dump({"auths": {env["REG_TOKEN"]: {"identitytoken": refresh}}}, af)
    af.flush()
    open(env["TOKEN_LOG"], "w").close()
    rc, doc, err = inspect(f"{env['REG_TOKEN']}/test/multi:1.0", "linux/arm/v7", "--ca-file", env["CA_FILE"],
                           "--auth-file", af.name)
    log = [json.loads(l) for l in open(env["TOKEN_LOG"])]
    check("identitytoken: one POST with grant_type=refresh_token", rc == 0 and len(log) == 1 and
          log[0]["method"] == "POST" and log[0]["auth"] == "refresh_token" and log[0]["user"] == env["REG_USER"],
          (err, log))

# 5. Faults, each one clear line and no digest.
fault, fault_tls = env["FAULT_PLAIN"], env["FAULT_TLS"]
digests = json.load(urllib.request.urlopen(f"http://{fault}/_digests"))
v7 = digests["children"].get("linux/arm/v7")


def fault_case(mode, want_rc, want_text, *extra, tag="1.0", host=None, timeout=5):
    urllib.request.urlopen(f"http://{fault}/_reset").read()
    rc, doc, err = inspect(f"{host or fault}/fault/{mode}:{tag}", "linux/arm/v7", *(extra or ["--insecure"]),
                           "--timeout", str(timeout), timeout=timeout)
    found = want_text.search(err) if isinstance(want_text, re.Pattern) else want_text in err
    ok = rc == want_rc and (found if want_rc else doc and doc["digest"] == v7)
    check(f"fault {mode}{':' + tag if tag != '1.0' else ''}", ok and len(err.splitlines()) <= 1,
          f"exit {rc}: {err[:300]}")


fault_case("ok", 0, "")
fault_case("tampered", 1, "does not match")
fault_case("nodigest", 0, "")
fault_case("oversize", 1, "larger than 4194304 bytes")
fault_case("oversizechunked", 1, "larger than 4194304 bytes")
# Each fault must be named by its cause, not only by the URL that every error names. The patterns take the
# cause words of curl's message (CURLOPT_ERRORBUFFER's or curl_easy_strerror's) and of the challenge
# parser; each was checked to match its own fault's message and none of the others'.
fault_case("truncated", 1, re.compile(r"transfer closed with \d+ bytes remaining|partial file", re.I))
fault_case("reset", 1, re.compile(r"\breset\b", re.I))
fault_case("stall", 1, re.compile(r"timed out|too slow|timeout was reached", re.I), timeout=1)
fault_case("flaky5xx", 0, "")
fault_case("ratelimit", 0, "")
fault_case("always401", 1, "401 even with fresh credentials")
for which, cause in [("unterminated", r"expected ',' between parameters|unterminated"),
                     ("norealm", r"without realm"), ("garbage", r"expected an auth scheme"),
                     ("empty", r"without realm"), ("ftprealm", r"realm is not an http\(s\) URL"),
                     ("relativerealm", r"realm is not an http\(s\) URL")]:
    fault_case("badchallenge", 1, re.compile(r"WWW-Authenticate.*(" + cause + ")", re.I), tag=which)
fault_case("badchallenge", 1, re.compile(r"auth scheme 'Negotiate'.*only Basic and Bearer", re.I),
           tag="unknownscheme")
fault_case("tokenhtml", 1, "not a JSON object")
fault_case("tokenbadjson", 1, "not a JSON object")
fault_case("wrongtypes", 1, "'manifests' is not an array")
fault_case("deepnest", 1, "malformed JSON")
fault_case("nocompat", 1, "offers linux/s390x, linux/ppc64le; this board needs linux/arm/v7")
fault_case("redirect", 0, "")
seen = json.load(urllib.request.urlopen(f"http://{fault}/_seen_auth"))
check("redirect to another host: no Authorization there", seen["requests"] > 0 and seen["with_auth"] == 0, seen)
with tempfile.NamedTemporaryFile("w", suffix=".json") as af:
    import base64
    json.dump({"auths": {fault: {"auth": base64.b64encode(b"bp:bp-secret").decode()}}}, af)
    af.flush()
    fault_case("redirectbasic", 0, "", "--insecure", "--auth-file", af.name)
    seen = json.load(urllib.request.urlopen(f"http://{fault}/_seen_auth"))
    check("Basic credentials never follow a redirect", seen["requests"] > 0 and seen["with_auth"] == 0, seen)
rc, doc, err = inspect(f"{env['FAULT_WRONGNAME']}/fault/ok:1.0", "linux/arm/v7", "--ca-file", env["CA_FILE"])
check("TLS name mismatch", rc == 1 and ("certificate" in err.lower() or "ssl" in err.lower()), err)
rc, doc, err = inspect("registry.invalid/x/y:1", "linux/arm/v7", "--timeout", "3", timeout=3)
check("DNS failure",
      rc == 1 and "registry.invalid" in err and re.search(r"(could not|couldn't) resolve host", err, re.I), err)
rc, doc, err = inspect(f"{fault_tls}/fault/ok:1.0", "linux/arm/v7", "--ca-file", env["CA_FILE"])
check("fault server over TLS with the test CA", rc == 0 and doc["digest"] == v7, err)

# 6. A real consumer: podman pulls the pinned reference and sees the platform boardpin promised.
conf = os.path.join(work, "containers.conf")
with open(conf, "w") as f:
    f.write('[engine]\nevents_logger = "file"\ncgroup_manager = "cgroupfs"\n')
for d in ("podman-tmp", "tmp"):
    os.makedirs(os.path.join(work, d), exist_ok=True)
penv = dict(os.environ, CONTAINERS_CONF=conf, CONTAINERS_REGISTRIES_CONF=env["CONTAINERS_REGISTRIES_CONF"],
            TMPDIR=os.path.join(work, "tmp"))
podman = ["podman", "--storage-driver", "vfs", "--root", os.path.join(work, "podman-root"), "--runroot",
          os.path.join(work, "podman-run"), "--tmpdir", os.path.join(work, "podman-tmp")]
for plat, arch, variant in [("linux/arm/v7", "arm", "v7"), ("linux/arm64", "arm64", "v8"), ("linux/arm/v6", "arm", "v6")]:
    rc, doc, err = inspect(f"{env['REG_BASIC']}/test/multi:1.0", plat, "--ca-file", env["CA_FILE"],
                           "--auth-file", env["AUTH_FILE"])
    if rc != 0:
        check(f"podman pull for {plat}", False, err)
        continue
    ref = f"{env['REG_BASIC']}/test/multi@{doc['digest']}"
    p = subprocess.run(podman + ["pull", "-q", "--arch", arch, "--variant", variant, "--signature-policy",
                       env["CONTAINERS_POLICY"], "--cert-dir", env["CERT_DIR"], "--creds",
                       f"{env['REG_USER']}:{env['REG_PASSWORD']}", ref], capture_output=True, text=True,
                       env=penv, timeout=120)
    q = subprocess.run(podman + ["image", "inspect", "--format", "{{.Os}}/{{.Architecture}} {{.Digest}}", ref],
                       capture_output=True, text=True, env=penv, timeout=60)
    check(f"podman pulls {plat} by digest and sees linux/{arch}",
          p.returncode == 0 and q.stdout.strip() == f"linux/{arch} {doc['digest']}", p.stderr[-300:] + q.stdout)

harness.done()
