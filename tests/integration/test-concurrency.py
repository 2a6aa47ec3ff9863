#!/usr/bin/python3
"""test-concurrency.py BOARDPIN WORKDIR ROOTS: resolve and boot with every service's registry work under
way at once, against the real registries and fault servers of registry.sh (started and seeded in
WORKDIR): answers out of order, one service delayed, a dead registry beside a live one, 100 services on
one registry (bounded connections, one token), partial failure, the two redirect holes (https -> http
on the same host; a redirect target with its own Bearer realm), boot deadlines, rate limiting, and
registry bytes that must not reach a terminal raw. Ends with 'N passed, N failed'.

Timing: the suite asserts no timings except deadlines that ARE the behaviour under test (boot_wait), and
those with generous bounds (a 1 s deadline must end the run in < 5 s)."""
import json, os, re, socket, subprocess, tempfile, urllib.request

import harness
from harness import check

bp, work, roots, env = harness.args()
expected = json.load(open(os.path.join(work, "expected.json")))["images"]
FAULT, FAULT_TLS, P = env["FAULT_PLAIN"], env["FAULT_TLS"], env["REG_PLAIN"]
BOARDS = {"pi-3-raspbian": ("rpi-3-b-raspbian32", "armv7l"), "pi-zero": ("rpi-zero-rev1.3", "armv6l")}


def control(path, host=FAULT, tls=False):
    if tls:
        import ssl
        ctx = ssl.create_default_context(cafile=env["CA_FILE"])
        return json.load(urllib.request.urlopen(f"https://{host}{path}", context=ctx))
    return json.load(urllib.request.urlopen(f"http://{host}{path}"))


DIGESTS = control("/_digests")
V7 = DIGESTS["children"]["linux/arm/v7"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def config(d, services, timeout=5, boot_wait=1, auth_file=None, extra=""):
    return harness.config(d, services,
                          {FAULT: "insecure = true", P: "insecure = true", FAULT_TLS: f"ca_file = {env['CA_FILE']}"},
                          {"timeout": timeout, "boot_wait": boot_wait, "auth_file": auth_file}, extra)


def run(cfg, *cmd, board="pi-3-raspbian", timeout=300):
    root, machine = BOARDS[board]
    r = harness.run([bp, "-c", cfg, "--root", os.path.join(roots, root), "--machine", machine, "--json", *cmd],
                    timeout=timeout)
    return r.rc, r.doc, r.err, r.took, r.raw


def by_name(doc):
    return {s["name"]: s for s in doc["services"]} if doc else {}


def envfile(d, name):
    try:
        return dict(l.rstrip("\n").split("=", 1) for l in open(os.path.join(d, "env", name)) if not l.startswith("#"))
    except FileNotFoundError:
        return None


def fresh():
    return tempfile.mkdtemp(dir=work)


BASE = {"base": f"image = {P}/test/multi\nversion = 1.0"}


def with_base(d, services, **kw):
    """A state dir whose lock already answers for 'base', then a config with services beside it: boot
    writes base's env file from the lock and goes to the network for the rest."""
    run(config(d, BASE), "resolve")
    return config(d, {**BASE, **services}, **kw)


# 1. Answers out of order: 20 services whose every answer comes after a random delay. Pins, the order of
#    results and the lock's bytes do not depend on the order the answers came in.
services = {f"svc{i:02d}": f"image = {FAULT}/fault/jitter/app{i}\nversion = 1.{i}" for i in range(20)}
locks, orders = [], []
for attempt in range(2):
    d = fresh()
    cfg = config(d, services)
    rc, doc, err, took, _ = run(cfg, "resolve")
    res = by_name(doc)
    ok = rc == 0 and len(res) == 20 and all(s["status"] == "ok" and s["digest"] == V7 for s in res.values())
    check(f"out of order (run {attempt + 1}): 20 services, every pin right", ok, (rc, err))
    orders.append([s["name"] for s in doc["services"]] if doc else None)
    # resolved_at is the clock's; everything else must be byte for byte the same.
    locks.append(re.sub(r'"resolved_at": "[^"]*"', "", open(os.path.join(d, "state", "lock.json")).read())
                 if ok else None)
check("out of order: results in config order", orders[0] == sorted(services) == orders[1], orders)
check("out of order: the same lock.json bytes from two runs (resolved_at aside)", locks[0] is not None and locks[0] == locks[1])

# 2. One service delayed: it alone times out; the others are pinned.
control("/_reset")
d = fresh()
services = {f"ok{i}": f"image = {FAULT}/fault/ok/app{i}\nversion = 1.0" for i in range(5)}
services["late"] = f"image = {FAULT}/fault/stall\nversion = 1.0"
cfg = config(d, services, timeout=2)
rc, doc, err, took, _ = run(cfg, "resolve")
res = by_name(doc)
check("one service delayed: the others are pinned", rc == 1 and all(res[f"ok{i}"]["status"] == "ok" and
      res[f"ok{i}"]["digest"] == V7 for i in range(5)), (rc, err))
check("one service delayed: it alone fails, naming the cause",
      res.get("late", {}).get("status") == "error" and "fault/stall" in res["late"]["error"] and
      ("timed out" in res["late"]["error"] or "too slow" in res["late"]["error"].lower()), res.get("late"))
check("one service delayed: the others did not wait their turn behind it",
      all((envfile(d, f"ok{i}.env") or {}).get("IMAGE_DIGEST") == V7 for i in range(5)) and envfile(d, "late.env") is None)

# 3. One service on a dead registry, nineteen on a live one.
dead = f"127.0.0.1:{free_port()}"
d = fresh()
services = {f"live{i:02d}": f"image = {P}/test/multi\nversion = 1.0" for i in range(19)}
services["gone"] = f"image = {dead}/test/multi\nversion = 1.0"
cfg = config(d, services, extra=f"\n[registry {dead}]\ninsecure = true\n")
rc, doc, err, took, _ = run(cfg, "resolve")
res = by_name(doc)
want = {k if len(k.split("/")) < 3 or k.split("/")[1] != "arm64" else "linux/arm64": v
        for k, v in expected["plain"]["test/multi:1.0"]["platforms"].items()}["linux/arm/v7"]
check("dead registry: nineteen pinned on the live one",
      rc == 1 and sum(1 for n, s in res.items() if n.startswith("live") and s["status"] == "ok" and
                      s["digest"] == want) == 19, (rc, err))
check("dead registry: the one service fails, saying it could not connect",
      res.get("gone", {}).get("status") == "error" and "connect" in res["gone"]["error"].lower(), res.get("gone"))

# 4. 100 services against one registry: correct pins over a bounded number of connections.
control("/_reset")
d = fresh()
services = {f"s{i:03d}": f"image = {FAULT}/fault/ok/app{i}\nversion = 1.0" for i in range(100)}
cfg = config(d, services)
rc, doc, err, took, _ = run(cfg, "resolve")
conns = control("/_connections")["main"] - 1       # the line above opened one too
res = by_name(doc)
check("100 services: every one pinned", rc == 0 and len(res) == 100 and
      all(s["status"] == "ok" and s["digest"] == V7 for s in res.values()), (rc, err))
check("100 services: at most 6 connections to the registry", 1 <= conns <= 6, conns)

# 5. 100 services on a token registry: one token request carrying all 100 scopes (a cache of 64 scopes
#    used to evict the token just fetched: "out of memory").
control("/_reset")
d = fresh()
services = {f"t{i:03d}": f"image = {FAULT}/fault/bearer/app{i}\nversion = 1.0" for i in range(100)}
cfg = config(d, services)
rc, doc, err, took, _ = run(cfg, "resolve")
tokens = control("/_tokens")
res = by_name(doc)
check("100 scopes on one registry: every service pinned", rc == 0 and len(res) == 100 and
      all(s["status"] == "ok" and s["digest"] == V7 for s in res.values()), (rc, err[:400]))
check("100 scopes on one registry: one token request with every scope",
      len(tokens) == 1 and len(set(tokens[0]["scopes"])) == 100 and doc["requests"]["token"] == 1,
      (len(tokens), [len(t["scopes"]) for t in tokens]))

# 6. Partial failure keeps its meaning: the failed service keeps its previous pin and env file.
d = fresh()
services = {"a": f"image = {P}/test/multi\nversion = 1.0", "b": f"image = {P}/test/multi-v2\nversion = 1.0",
            "c": f"image = {FAULT}/fault/ok/c\nversion = 1.0"}
cfg = config(d, services)
rc, doc, err, took, _ = run(cfg, "resolve")
before_env, before_lock = open(os.path.join(d, "env", "c.env")).read(), json.load(
    open(os.path.join(d, "state", "lock.json")))["services"]["c"]
services["c"] = f"image = {FAULT}/fault/ok/c\nversion = 1.1"
services["a"] = f"image = {P}/test/multi\nversion = 1.1"
cfg = config(d, services, extra=f"\n[registry {dead}]\ninsecure = true\n")
cfg_text = open(cfg).read().replace(f"image = {FAULT}/fault/ok/c", f"image = {dead}/fault/ok/c")
open(cfg, "w").write(cfg_text)
rc, doc, err, took, _ = run(cfg, "resolve")
res = by_name(doc)
after_lock = json.load(open(os.path.join(d, "state", "lock.json")))["services"]
check("partial failure: exit 1, the others move on", rc == 1 and res["a"]["status"] == "ok" and
      res["a"]["tag"] == "1.1" and res["b"]["status"] == "ok" and res["c"]["status"] == "error", (rc, err))
check("partial failure: the failed service keeps its previous pin and env file",
      open(os.path.join(d, "env", "c.env")).read() == before_env and after_lock["c"]["pin"] == before_lock["pin"],
      after_lock.get("c"))

# 7. https -> http redirect on the same host: credentials must not follow, nothing is fetched in clear.
with tempfile.NamedTemporaryFile("w", suffix=".json", dir=work, delete=False) as af:
    import base64
    json.dump({"auths": {FAULT_TLS: {"auth": base64.b64encode(b"bp:bp-secret").decode()}}}, af)
control("/_reset")
d = fresh()
log_start = os.path.getsize(env["FAULT_LOG"])
cfg = config(d, {"clear": f"image = {FAULT_TLS}/fault/tohttp\nversion = 1.0"}, auth_file=af.name)
rc, doc, err, took, _ = run(cfg, "resolve")
with open(env["FAULT_LOG"]) as f:
    f.seek(log_start)
    entries = [json.loads(l) for l in f if l.strip()]
plain_port = int(FAULT.split(":")[1])
in_clear = [e for e in entries if e["port"] == plain_port and "tohttp" in e["path"]]
check("https -> http redirect: refused, no request reaches plain HTTP, no credentials in clear",
      rc == 1 and not in_clear and "tohttp" in err and envfile(d, "clear.env") is None, (rc, err, in_clear))
check("https -> http redirect: the Basic credentials went to the https registry only",
      any(e["port"] == int(FAULT_TLS.split(":")[1]) and e["auth_scheme"] == "Basic" for e in entries), entries[-4:])

# 8. A redirect target answering 401 with its own Bearer realm="http://...": it gets nothing, and the
#    registry's own challenge (Basic) stays the registry's for the rest of the run.
with tempfile.NamedTemporaryFile("w", suffix=".json", dir=work, delete=False) as af2:
    json.dump({"auths": {FAULT: {"auth": base64.b64encode(b"bp:bp-secret").decode()}}}, af2)
control("/_reset")
d = fresh()
log_start = os.path.getsize(env["FAULT_LOG"])
cfg = config(d, {"cdn": f"image = {FAULT}/fault/redirect401\nversion = 1.0",
                 "after": f"image = {FAULT}/fault/redirectbasic\nversion = 1.0"}, auth_file=af2.name)
rc, doc, err, took, _ = run(cfg, "resolve")
res = by_name(doc)
seen = control("/_seen_auth")
tokens = control("/_tokens")
with open(env["FAULT_LOG"]) as f:
    f.seek(log_start)
    entries = [json.loads(l) for l in f if l.strip()]
main_schemes = {e["auth_scheme"] for e in entries if e["port"] == plain_port}
check("redirect target's own 401: refused with one line naming it",
      res.get("cdn", {}).get("status") == "error" and "where a redirect led" in res["cdn"]["error"], res.get("cdn"))
check("redirect target's own 401: no credentials reached it, no token was asked of its realm",
      seen["requests"] > 0 and seen["with_auth"] == 0 and not tokens, (seen, tokens))
check("redirect target's own 401: the registry keeps its Basic challenge for later requests",
      res.get("after", {}).get("status") == "ok" and res["after"]["digest"] == V7 and main_schemes <= {"", "Basic"},
      (res.get("after"), main_schemes))

# 9. boot with boot_wait = 0, four unresolved services and a refused port: returns at once.
d = fresh()
cfg = with_base(d, {f"b{i}": f"image = {dead}/test/multi\nversion = 1.0" for i in range(4)}, boot_wait=0,
                extra=f"\n[registry {dead}]\ninsecure = true\n")
rc, doc, err, took, _ = run(cfg, "boot")
# A deadline that is the behaviour under test: boot_wait = 0 means no waiting (it took 17 s).
check("boot, boot_wait = 0, refused port: returns at once (< 5 s), exit 1",
      rc == 1 and took < 5 and len(by_name(doc)) == 5 and by_name(doc)["base"]["status"] == "ok" and
      (envfile(d, "base.env") or {}).get("IMAGE_DIGEST"), (rc, took, err))

# 10. boot with boot_wait = 1, timeout = 3 and a registry sending one byte a second: about 1 s.
d = fresh()
cfg = with_base(d, {"slow": f"image = {FAULT}/fault/trickle\nversion = 1.0"}, boot_wait=1, timeout=3)
rc, doc, err, took, _ = run(cfg, "boot")
# The deadline is the behaviour under test (it took 36 s): generous bound.
check("boot, boot_wait = 1, one byte a second: returns in about 1 s (< 5 s), exit 1",
      rc == 1 and took < 5 and "timed out" in err, (rc, took, err))

# 11. Rate limiting past the deadline is said as such.
d = fresh()
cfg = with_base(d, {"limited": f"image = {FAULT}/fault/ratelimitlong\nversion = 1.0"}, boot_wait=3)
rc, doc, err, took, _ = run(cfg, "boot")
check("boot: a Retry-After past boot_wait is reported as rate limiting",
      rc == 1 and "rate limited" in err and "HTTP 429 (after" not in err and took < 10, (rc, took, err))

# 12. boot writes what the lock answers first; the rest goes to the network, concurrently.
d = fresh()
cfg = config(d, {"known": f"image = {P}/test/multi\nversion = 1.0"})
run(cfg, "resolve")
cfg = config(d, {"known": f"image = {P}/test/multi\nversion = 1.0",
                 "new": f"image = {FAULT}/fault/ok/new\nversion = 1.0"})
rc, doc, err, took, _ = run(cfg, "boot")
res = by_name(doc)
check("boot: the lock's service from the lock, the new one from the network",
      rc == 0 and res["known"]["digest"] == want and res["new"]["digest"] == V7 and
      (envfile(d, "new.env") or {}).get("IMAGE_DIGEST") == V7, (rc, err))

# 13. A per-arch "-armv6" tag whose config names no variant is a Pi Zero's image.
d = fresh()
cfg = config(d, {"zero": f"image = {FAULT}/fault/novariant\nversion = 1.0\ntag.linux/arm/v6 = {{version}}-armv6"})
rc, doc, err, took, _ = run(cfg, "resolve", board="pi-zero")
res = by_name(doc)
check("armv6 tag without a variant in its config: pinned on a Pi Zero as linux/arm/v6",
      rc == 0 and res["zero"]["digest"] == DIGESTS["children"]["linux/arm"] and
      res["zero"]["platform"] == "linux/arm/v6", (rc, err))

# 14. Registry bytes never reach the terminal raw: escape sequences and a forged "boardpin:" line.
d = fresh()
cfg = config(d, {"digest": f"image = {FAULT}/fault/evil\nversion = digest",
                 "type": f"image = {FAULT}/fault/evil\nversion = type", **BASE})
rc, doc, err, took, raw = run(cfg, "resolve")
res = by_name(doc)
lines = raw.decode(errors="replace").splitlines()
check("registry bytes: both refused", rc == 1 and res.get("digest", {}).get("status") == "error" and
      res.get("type", {}).get("status") == "error", (rc, err))
check("registry bytes: no escape or bell byte on stdout or stderr", b"\x1b" not in raw and b"\x07" not in raw,
      raw[-400:])
check("registry bytes: no forged 'boardpin: all good' line",
      not any(l.startswith("boardpin: all good") for l in lines) and "all good" in err, err)

# 14. A registry's challenge is remembered: the next run's first requests carry Basic at once (no 401
#     round trip), and a hint the registry no longer agrees with costs one 401, never the pin.
B = env["REG_BASIC"]
d = fresh()
three = {f"b{i}": f"image = {B}/test/multi\nversion = 1.0" for i in range(3)}
cfg = config(d, three, auth_file=env["AUTH_FILE"], extra=f"[registry {B}]\nca_file = {env['CA_FILE']}\n")


def exchanges(cfg):
    root, machine = BOARDS["pi-3-raspbian"]
    p = subprocess.run([bp, "-v", "-c", cfg, "--root", os.path.join(roots, root), "--machine", machine, "resolve"],
                       capture_output=True, timeout=300)
    m = re.search(r"network: (\d+) HTTP exchanges", p.stderr.decode(errors="replace"))
    return p.returncode, int(m.group(1)) if m else None, p.stderr.decode(errors="replace")


rc1, cold, err1 = exchanges(cfg)
hint_path = os.path.join(d, "state", "challenges.json")
hint = json.load(open(hint_path)) if os.path.exists(hint_path) else {}
check("challenge kept: the Basic registry's challenge is in challenges.json",
      rc1 == 0 and hint.get("registries", {}).get(B, "").startswith("Basic"), (rc1, hint, err1[-300:]))
rc2, warm, err2 = exchanges(cfg)
check("challenge kept: an unchanged run is 3 HEADs and no 401", rc2 == 0 and warm == 3, (rc2, warm, err2[-300:]))
with open(hint_path, "w") as f:
    json.dump({"schema": 1, "registries": {B: ""}}, f)       # "asks for nothing": wrong
rc3, stale, err3 = exchanges(cfg)
hint = json.load(open(hint_path))
check("challenge kept: a stale hint costs a 401 per request, the pins stay, the hint is mended",
      rc3 == 0 and stale is not None and stale > 3 and hint["registries"].get(B, "").startswith("Basic"),
      (rc3, stale, hint, err3[-300:]))

harness.done()
