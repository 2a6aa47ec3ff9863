#!/usr/bin/python3
"""test-mirror.py BOARDPIN WORKDIR ROOTS: mirror = in front of the registries of registry.sh.

A real pull-through cache (Debian's docker-registry with proxy: remoteurl:) in front of the plain
registry: boardpin's requests reach it and the registry itself sees only the cache's; with the cache
stopped boardpin asks the registry itself, with one warning. faultserver.py as a mirror that changes a
byte of a manifest, or serves an index of its own: caught, nothing of it written, the registry's answer
used. faultserver.py as a mirror that asks for credentials in front of the Basic and token registries:
their credentials never reach it; its own, from the auth file, do. A stale mirror (faultserver.py
serving an older, consistent image for a tag): the pin does not move back, one HEAD to the registry
confirms, the mirror is reported; with the registry down the move is unconfirmed, resolve fails and
upgrade holds it (exit 0), the pin kept; a fresh mirror's move is confirmed with one HEAD; a stale tag
list that leads away from the pinned tag is overruled by the registry's own list. Ends with
'N passed, N failed'."""
import base64, json, os, shutil, socket, ssl, subprocess, sys, tempfile, time
import urllib.request

import harness
from harness import check, load_env

bp, work, roots = sys.argv[1], sys.argv[2], sys.argv[3]
env = load_env(work)
expected = json.load(open(os.path.join(work, "expected.json")))["images"]
here = os.path.dirname(os.path.abspath(__file__))
REGISTRY_BIN = os.environ.get("REGISTRY_BIN", "/usr/bin/docker-registry")
P, B, T = env["REG_PLAIN"], env["REG_BASIC"], env["REG_TOKEN"]
PLATFORM = "linux/arm64"
procs = []


def want(reg, image):
    """(index digest, the arm64 child) of image:tag in registry reg, as seed.sh fetched them."""
    e = expected[reg][image]
    return e["digest"], e["platforms"]["linux/arm64/v8"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_up(url, proc, what, cafile=None, timeout=15):
    ctx = ssl.create_default_context(cafile=cafile) if url.startswith("https") else None
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited during start-up (status {proc.returncode})")
        try:
            urllib.request.urlopen(url, timeout=2, context=ctx).read()
            return
        except urllib.error.HTTPError:
            return  # it answers: a 401 is an answer
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what}: no answer from {url} within {timeout}s")


def start(name, argv, url, cafile=None):
    """A process of this test, its output in WORKDIR/NAME.log; every argv names WORKDIR, so registry.sh
    stop also ends it should this test die first."""
    log = open(os.path.join(work, name + ".log"), "w")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    procs.append(proc)
    wait_up(url, proc, name, cafile)
    return proc


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def proxy_registry(name, upstream):
    """Debian's docker-registry as a pull-through cache of upstream: (process, port, access log)."""
    port = free_port()
    conf = os.path.join(work, "config", name + ".yml")
    storage = os.path.join(work, "storage", name)
    shutil.rmtree(storage, ignore_errors=True)
    os.makedirs(storage)
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
  redirect:
    disable: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:{port}
  secret: {os.urandom(12).hex()}
proxy:
  remoteurl: {upstream}
""")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    log = open(os.path.join(work, name + ".log"), "w")
    proc = subprocess.Popen([REGISTRY_BIN, "serve", conf], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env=clean)
    procs.append(proc)
    wait_up(f"http://127.0.0.1:{port}/v2/", proc, name)
    return proc, port, os.path.join(work, name + ".log")


def fault_mirror(name, upstream, *extra, tls=False):
    """faultserver.py as a mirror of upstream: (process, port, request log)."""
    port = free_port()
    log = os.path.join(work, name + "-requests.log")
    open(log, "w").close()
    argv = [sys.executable, os.path.join(here, "faultserver.py"), "--port", str(port), "--log", log,
            "--mirror-of", upstream, *extra]
    if tls:
        argv += ["--tls-cert", os.path.join(work, "certs", "server.pem"),
                 "--tls-key", os.path.join(work, "certs", "server.key")]
    scheme = "https" if tls else "http"
    proc = start(name, argv, f"{scheme}://127.0.0.1:{port}/_requests", env["CA_FILE"] if tls else None)
    return proc, port, log


def requests_of(log):
    return [json.loads(l) for l in open(log) if l.strip()]


def access_lines(path, start_at=0):
    """(method, path, user agent) of each access-log line of a docker-registry log from byte start_at."""
    out = []
    with open(path, errors="replace") as f:
        f.seek(start_at)
        for line in f:
            if not line.startswith("127.0.0.1 - - [") or '"' not in line:
                continue
            parts = line.split('"')
            if len(parts) < 6:
                continue
            req = parts[1].split(" ")
            out.append((req[0], req[1] if len(req) > 1 else "", parts[-2]))
    return out


def mark(path):
    return os.path.getsize(path)


def config(d, registries, services, auth_file=None):
    return harness.config(d, services, registries, {"timeout": 5, "auth_file": auth_file})


def run(cfg, *cmd, timeout=120):
    return tuple(harness.run([bp, "-c", cfg, "--platform", PLATFORM, "--json", *cmd], timeout=timeout))


def push_arm64(repo, tags, text):
    """A linux/arm64 OCI image (one layer holding text) in the plain registry, under each of tags."""
    return harness.push(P, repo, tags, text, arch="arm64", created="2020-01-01T00:00:00Z")


def pinned(d, name):
    try:
        return json.loads(lock_text(d))["services"][name]["pin"]["digest"]
    except (ValueError, KeyError):
        return None


def boardpin_requests(path, start_at):
    return [l[:2] for l in access_lines(path, start_at) if l[2].startswith("boardpin/")]


def digests(doc):
    return {s["name"]: (s.get("index_digest"), s.get("digest")) for s in (doc or {}).get("services", [])}


def mirror_lines(stderr, url):
    return [l for l in stderr.splitlines() if f"mirror {url} " in l]


def lock_text(d):
    try:
        return open(os.path.join(d, "state", "lock.json")).read()
    except FileNotFoundError:
        return ""


def env_texts(d):
    out = ""
    for name in sorted(os.listdir(os.path.join(d, "env"))) if os.path.isdir(os.path.join(d, "env")) else []:
        out += open(os.path.join(d, "env", name)).read()
    return out


SERVICES = {
    "multi": f"image = {P}/test/multi\nversion = 1.0",
    "caret": f"image = {P}/test/many\nversion = ^1.30",
}
WANT = {"multi": want("plain", "test/multi:1.0"), "caret": want("plain", "test/many:1.33.0")}
plain_log = os.path.join(work, "registry-plain.log")
tmp = tempfile.mkdtemp(prefix="mirror.", dir=work)

try:
    # ---- a real pull-through cache --------------------------------------------------------------------
    proxy, pport, proxy_log = proxy_registry("mirror-proxy", f"http://{P}")
    murl = f"http://127.0.0.1:{pport}"
    d = os.path.join(tmp, "proxy")
    os.makedirs(d)
    cfg = config(d, {P: f"insecure = true\nmirror = {murl}"}, SERVICES)
    at, pat = mark(plain_log), mark(proxy_log)
    rc, doc, err = run(cfg, "resolve")
    check("proxy: resolve through the cache pins what the registry has", rc == 0 and digests(doc) == WANT,
          (rc, digests(doc), err))
    check("proxy: no warning while the cache answers", not mirror_lines(err, murl), err)
    mine = [l for l in access_lines(proxy_log, pat) if l[2].startswith("boardpin/")]
    check("proxy: boardpin's manifest and tag-list requests reach the cache",
          ("GET", "/v2/test/multi/manifests/1.0") in [l[:2] for l in mine]
          and any(l[1].startswith("/v2/test/many/tags/list") for l in mine), mine)
    upstream = access_lines(plain_log, at)
    check("proxy: the registry itself sees only the cache's requests, none of boardpin's",
          upstream and not [l for l in upstream if l[2].startswith("boardpin/")], upstream)
    st = (doc or {}).get("requests", {})
    check("proxy: the request counts include the cache's", st.get("get", 0) >= 2 and st.get("tag_pages", 0) >= 1,
          st)

    # The lock answers now: one HEAD per service, still asked of the cache.
    at, pat = mark(plain_log), mark(proxy_log)
    rc, doc, err = run(cfg, "resolve")
    mine = [l for l in access_lines(proxy_log, pat) if l[2].startswith("boardpin/")]
    check("proxy: unchanged tags cost one HEAD each, at the cache",
          rc == 0 and digests(doc) == WANT and sorted(m for m, _, _ in mine if m != "GET") == ["HEAD", "HEAD"]
          and not [l for l in access_lines(plain_log, at) if l[2].startswith("boardpin/")],
          (rc, (doc or {}).get("requests"), mine, err))

    # ---- the cache stopped --------------------------------------------------------------------------------
    stop(proxy)
    shutil.rmtree(os.path.join(d, "state"))
    at = mark(plain_log)
    t0 = time.monotonic()
    rc, doc, err = run(cfg, "resolve")
    took = time.monotonic() - t0
    check("stopped: boardpin asks the registry itself and pins the same", rc == 0 and digests(doc) == WANT,
          (rc, digests(doc), err))
    lines = mirror_lines(err, murl)
    check("stopped: one warning line naming the mirror, the registry and why",
          len(lines) == 1 and f"asking {P} itself" in lines[0] and "connect" in lines[0].lower(), err)
    check("stopped: the registry itself now has boardpin's requests",
          [l for l in access_lines(plain_log, at) if l[2].startswith("boardpin/")], access_lines(plain_log, at))
    check("stopped: a mirror that does not answer costs no retries (under 5 s)", took < 5, took)
    rc, doc, err = run(cfg, "resolve")
    check("stopped: with the lock answering, still one warning and the same pins",
          rc == 0 and digests(doc) == WANT and len(mirror_lines(err, murl)) == 1, (rc, err))

    # ---- a mirror that changes a byte of a manifest ----------------------------------------------------
    fm, fport, flog = fault_mirror("mirror-tamper", f"http://{P}", "--mirror-fault", "tamper")
    furl = f"http://127.0.0.1:{fport}"
    d = os.path.join(tmp, "tamper")
    os.makedirs(d)
    cfg = config(d, {P: f"insecure = true\nmirror = {furl}"}, {"multi": SERVICES["multi"]})
    rc, doc, err = run(cfg, "resolve")
    lines = mirror_lines(err, furl)
    check("tamper: the registry's answer is pinned", rc == 0 and digests(doc) == {"multi": WANT["multi"]},
          (rc, digests(doc), err))
    check("tamper: the digest check caught it, one warning",
          len(lines) == 1 and "does not match the body's" in lines[0], err)
    served = [r for r in requests_of(flog) if r["path"] == "/v2/test/multi/manifests/1.0" and r["status"] == 200]
    check("tamper: the mirror did serve its changed manifest", served, requests_of(flog))
    bad = lines[0].split("the body's ")[1].split(")")[0] if lines and "the body's " in lines[0] else "?"
    check("tamper: nothing of the mirror's answer is written",
          bad.startswith("sha256:") and bad not in lock_text(d) and bad not in env_texts(d)
          and WANT["multi"][1] in env_texts(d), (bad, lock_text(d)[:300]))
    stop(fm)

    # ---- a mirror that serves an index of its own making (its digest agrees with its bytes) ---------------
    fm, fport, flog = fault_mirror("mirror-swap", f"http://{P}", "--mirror-fault", "swap:test/mislabeled:1.0")
    furl = f"http://127.0.0.1:{fport}"
    d = os.path.join(tmp, "swap")
    os.makedirs(d)
    cfg = config(d, {P: f"insecure = true\nmirror = {furl}"}, {"multi": SERVICES["multi"]})
    rc, doc, err = run(cfg, "resolve")
    lines = mirror_lines(err, furl)
    mislabeled = expected["plain"]["test/mislabeled:1.0"]["digest"]
    check("swap: the tag is asked of the registry itself and its index pinned",
          rc == 0 and digests(doc) == {"multi": WANT["multi"]} and mislabeled not in lock_text(d),
          (rc, digests(doc), err))
    check("swap: one warning", len(lines) == 1, err)
    stop(fm)

    # ---- credentials: the registry's never reach the mirror ---------------------------------------------
    fm, fport, flog = fault_mirror("mirror-login", f"https://{B}", "--mirror-ca", env["CA_FILE"],
                                   "--mirror-upstream-auth", f"{env['REG_USER']}:{env['REG_PASSWORD']}",
                                   "--mirror-login", "mirroruser:mirror-secret", tls=True)
    mhost = f"127.0.0.1:{fport}"
    furl = f"https://{mhost}"
    cred_services = {"listv2": f"image = {B}/test/multi-v2\nversion = 1.0",
                     "tok": f"image = {T}/test/multi\nversion = 1.0"}
    cred_want = {"listv2": want("basic", "test/multi-v2:1.0"), "tok": want("token", "test/multi:1.0")}
    regs = {B: f"ca_file = {env['CA_FILE']}\nmirror = {furl}", T: f"ca_file = {env['CA_FILE']}\nmirror = {furl}",
            mhost: f"ca_file = {env['CA_FILE']}"}
    d = os.path.join(tmp, "creds")
    os.makedirs(d)
    cfg = config(d, regs, cred_services, auth_file=env["AUTH_FILE"])
    rc, doc, err = run(cfg, "resolve")
    seen = requests_of(flog)
    mine = [r for r in seen if r["path"].startswith("/v2/test/")]
    check("creds: without the mirror in the auth file, both registries answer themselves",
          rc == 0 and digests(doc) == cred_want, (rc, digests(doc), err))
    check("creds: the mirror was asked, and got no Authorization at all",
          mine and not [r for r in mine if r["auth"]], mine)
    lines = mirror_lines(err, furl)
    check("creds: one warning for each registry the mirror stands in for",
          len(lines) == 2 and any(f" of {B} " in l for l in lines) and any(f" of {T} " in l for l in lines), err)

    # The auth file names the mirror: its own credentials go to it, the registry's still never.
    with open(env["AUTH_FILE"]) as f:
        auths = json.load(f)
    auths["auths"][mhost] = {"auth": base64.b64encode(b"mirroruser:mirror-secret").decode()}
    auth2 = os.path.join(d, "auth.json")
    with open(auth2, "w") as f:
        json.dump(auths, f)
    os.chmod(auth2, 0o600)
    shutil.rmtree(os.path.join(d, "state"))
    open(flog, "w").close()
    basic_log = os.path.join(work, "registry-basic.log")
    at = mark(basic_log)
    cfg = config(d, {B: regs[B], mhost: regs[mhost]}, {"listv2": cred_services["listv2"]}, auth_file=auth2)
    rc, doc, err = run(cfg, "resolve")
    mine = [r for r in requests_of(flog) if r["path"].startswith("/v2/test/")]
    users = sorted({r["auth_user"] for r in mine if r["auth"]})
    check("creds: with its own entry, the mirror answers (no warning)",
          rc == 0 and digests(doc) == {"listv2": cred_want["listv2"]} and not mirror_lines(err, furl),
          (rc, digests(doc), err))
    check("creds: the mirror got its own user only, never the registry's", users == ["mirroruser"], mine)
    check("creds: the Basic registry saw only the mirror's requests",
          not [l for l in access_lines(basic_log, at) if l[2].startswith("boardpin/")], access_lines(basic_log, at))

    # A mirror is another host: the registry's ca_file is not its trust.
    cfg = config(d, {B: regs[B]}, {"listv2": cred_services["listv2"]}, auth_file=auth2)
    shutil.rmtree(os.path.join(d, "state"))
    rc, doc, err = run(cfg, "resolve")
    lines = mirror_lines(err, furl)
    check("tls: without a ca_file of its own the mirror's certificate is not trusted; the registry answers",
          rc == 0 and digests(doc) == {"listv2": cred_want["listv2"]} and len(lines) == 1
          and "certificate" in lines[0].lower(), (rc, err))
    stop(fm)

    # ---- a stale mirror: it serves an older image for the tag, consistent in itself -----------------------
    # test/stale:old is the older image, test/stale:1.0 the one the registry names now; the mirror answers
    # the tag 1.0 with the registry's "old" (HEAD and GET), and every digest as the registry does.
    old = push_arm64("test/stale", ["old"], "stale mirror: old\n")
    new = push_arm64("test/stale", ["1.0"], "stale mirror: new\n")
    stale_services = {"stale": f"image = {P}/test/stale\nversion = 1.0"}
    d = os.path.join(tmp, "stale")
    os.makedirs(d)
    cfg = config(d, {P: "insecure = true"}, stale_services)
    rc, doc, err = run(cfg, "resolve")
    check("stale: the registry itself pins the new image", rc == 0 and pinned(d, "stale") == new,
          (rc, pinned(d, "stale"), new, err))
    fm, fport, flog = fault_mirror("mirror-stale", f"http://{P}", "--mirror-fault", "swap:test/stale:old")
    furl = f"http://127.0.0.1:{fport}"
    cfg = config(d, {P: f"insecure = true\nmirror = {furl}"}, stale_services)
    before, at = lock_text(d), mark(plain_log)
    rc, doc, err = run(cfg, "resolve")
    asked = [r for r in requests_of(flog) if r["path"] == "/v2/test/stale/manifests/1.0"]
    check("stale: the mirror did answer the tag with the older image",
          asked and all(r["status"] == 200 for r in asked), requests_of(flog))
    check("stale: the board does not move back; the lock is untouched",
          rc == 0 and pinned(d, "stale") == new and old not in lock_text(d) and lock_text(d) == before
          and old not in env_texts(d), (rc, pinned(d, "stale"), err))
    mine = boardpin_requests(plain_log, at)
    check("stale: one HEAD of the tag to the registry itself confirmed it, nothing else",
          mine == [("HEAD", "/v2/test/stale/manifests/1.0")], mine)
    lines = mirror_lines(err, furl)
    check("stale: the mirror is reported, naming both digests", len(lines) == 1 and old in lines[0]
          and new in lines[0], err)

    # ---- the same stale mirror, its registry unreachable: the move is unconfirmed -------------------------
    # The image's registry is a closed port; the mirror still answers for it (its upstream is the plain
    # registry, which holds the same repository). A first pin takes the mirror's answer: nothing to compare.
    gone = f"127.0.0.1:{free_port()}"
    good, gport, glog = fault_mirror("mirror-good", f"http://{P}")
    gurl = f"http://127.0.0.1:{gport}"
    d = os.path.join(tmp, "unconfirmed")
    os.makedirs(d)
    down_services = {"stale": f"image = {gone}/test/stale\nversion = 1.0"}
    cfg = config(d, {gone: f"insecure = true\nmirror = {gurl}"}, down_services)
    rc, doc, err = run(cfg, "resolve")
    check("unconfirmed: a first pin through the mirror, the registry down", rc == 0 and pinned(d, "stale") == new,
          (rc, pinned(d, "stale"), err))
    rc, doc, err = run(cfg, "resolve")
    check("unconfirmed: the mirror agreeing with the lock needs no registry", rc == 0
          and pinned(d, "stale") == new and not mirror_lines(err, gurl), (rc, err))
    stop(good)
    cfg = config(d, {gone: f"insecure = true\nmirror = {furl}"}, down_services)
    before = lock_text(d)
    rc, doc, err = run(cfg, "resolve")
    check("unconfirmed: resolve fails the service with that reason, exit 1",
          rc == 1 and "unconfirmed" in err and gone in err, (rc, err))
    check("unconfirmed: the pin stays", pinned(d, "stale") == new and lock_text(d) == before
          and old not in env_texts(d), (pinned(d, "stale"), err))
    rc, doc, err = run(cfg, "upgrade")
    s = next((x for x in (doc or {}).get("services", []) if x["name"] == "stale"), {})
    check("unconfirmed: upgrade holds the mirror's digest, says why, and exits 0",
          rc == 0 and s.get("action") == "held" and "unconfirmed" in (s.get("reason") or "")
          and s.get("hold") == "unconfirmed" and pinned(d, "stale") == new and old not in lock_text(d), (rc, s, err))
    stop(fm)

    # ---- a fresh mirror: the tag moved, the registry confirms with one HEAD -------------------------------
    newer = push_arm64("test/stale", ["1.0"], "stale mirror: newer\n")
    good, gport, glog = fault_mirror("mirror-fresh", f"http://{P}")
    gurl = f"http://127.0.0.1:{gport}"
    d = os.path.join(tmp, "stale")
    cfg = config(d, {P: f"insecure = true\nmirror = {gurl}"}, stale_services)
    at = mark(plain_log)
    rc, doc, err = run(cfg, "resolve")
    check("fresh: the move is taken once the registry confirms it", rc == 0 and pinned(d, "stale") == newer
          and not mirror_lines(err, gurl), (rc, pinned(d, "stale"), err))
    mine = boardpin_requests(plain_log, at)
    check("fresh: the registry itself got one HEAD and nothing else", mine == [("HEAD", "/v2/test/stale/manifests/1.0")],
          mine)
    stop(good)

    # ---- a stale mirror's tag list: it has not seen the newest tag yet ------------------------------------
    t_old = push_arm64("test/stalelist", ["1.0.0"], "stale list: 1.0.0\n")
    t_new = push_arm64("test/stalelist", ["1.1.0"], "stale list: 1.1.0\n")
    list_services = {"listed": f"image = {P}/test/stalelist\nversion = ^1.0"}
    d = os.path.join(tmp, "stalelist")
    os.makedirs(d)
    cfg = config(d, {P: "insecure = true"}, list_services)
    rc, doc, err = run(cfg, "resolve")
    check("stale list: the registry itself pins 1.1.0", rc == 0 and pinned(d, "listed") == t_new,
          (rc, pinned(d, "listed"), t_new, err))
    hm, hport, hlog = fault_mirror("mirror-hidetag", f"http://{P}", "--mirror-fault", "hidetag:1.1.0")
    hurl = f"http://127.0.0.1:{hport}"
    cfg = config(d, {P: f"insecure = true\nmirror = {hurl}"}, list_services)
    before, at = lock_text(d), mark(plain_log)
    rc, doc, err = run(cfg, "resolve")
    listed = [r for r in requests_of(hlog) if r["path"].startswith("/v2/test/stalelist/tags/list")]
    check("stale list: the mirror's list, without 1.1.0, was asked", listed and listed[0]["status"] == 200,
          requests_of(hlog))
    check("stale list: the board stays on 1.1.0; the lock is untouched",
          rc == 0 and pinned(d, "listed") == t_new and t_old not in lock_text(d) and lock_text(d) == before,
          (rc, pinned(d, "listed"), err))
    mine = boardpin_requests(plain_log, at)
    check("stale list: the registry's own tag list decided, and nothing else was asked of it",
          len(mine) == 1 and mine[0][0] == "GET" and mine[0][1].startswith("/v2/test/stalelist/tags/list"), mine)
    stop(hm)
except Exception as e:  # a component that will not start fails the test, never skips it
    check("mirror harness", False, repr(e))
finally:
    for p in procs:
        stop(p)
    shutil.rmtree(tmp, ignore_errors=True)

harness.done()
