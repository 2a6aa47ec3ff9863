#!/usr/bin/python3
"""test-cli.py BOARDPIN WORKDIR ROOTS: the commands' contract with the real binary and the registries of
registry.sh: boot with a config cut short, empty or broken (the lock's env files rendered as they are, the
lock untouched, exit 2 with file:line), resolve never pruning on an empty config, --dry-run writing
nothing, options a command does not use refused, report --json, a stdout whose reader went away, and
boot waiting a bounded time for a resolve that holds the state lock. Ends with 'N passed, N failed'."""
import hashlib, json, os, re, signal, subprocess, tempfile, time

import harness
from harness import check

bp, work, roots, env = harness.args()
expected = json.load(open(os.path.join(work, "expected.json")))["images"]["plain"]
P = env["REG_PLAIN"]
ROOT = os.path.join(roots, "rpi-3-b-raspbian32")


def config(d, services, boot_wait=1, name="boardpin.ini", extra=""):
    return harness.config(d, services, {P: "insecure = true"}, {"timeout": 3, "boot_wait": boot_wait}, extra, name)


def argv(cfg, *cmd, json_out=True):
    return [bp, "-c", cfg, "--root", ROOT, "--machine", "armv7l", *(["--json"] if json_out else []), *cmd]


def run(cfg, *cmd, net=True, json_out=True, timeout=120):
    return tuple(harness.run(argv(cfg, *cmd, json_out=json_out), net=net, timeout=timeout))


def snapshot(d):
    """Every file under d/state and d/env: name -> sha256 (the flock file aside)."""
    out = {}
    for sub in ("state", "env"):
        top = os.path.join(d, sub)
        for dirpath, _, files in os.walk(top):
            for f in files:
                if f == ".lock":
                    continue
                path = os.path.join(dirpath, f)
                out[os.path.relpath(path, d)] = hashlib.sha256(open(path, "rb").read()).hexdigest()
    return out


def envfile(path):
    try:
        return dict(l.rstrip("\n").split("=", 1) for l in open(path) if not l.startswith("#"))
    except FileNotFoundError:
        return None


def in_defaults(cmd, d):
    """cmd in a mount namespace whose /var/lib and /run are empty, but for d's lock at the default
    state_dir; prints rc=N and the env files in the default env_dir. .err is cmd's stderr."""
    script = f"""
mount -t tmpfs -o mode=0755 tmpfs /var/lib && mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /var/lib/boardpin && cp "$D/state/lock.json" /var/lib/boardpin/
set +e
{cmd} 2>"$D/err"
echo "rc=$?"
set -e
for f in multi caret images; do echo "== $f"; cat /run/boardpin/$f.env || true; done
cmp /var/lib/boardpin/lock.json "$D/state/lock.json" && echo "lock unchanged"
"""
    p = subprocess.run(["unshare", "--mount", "sh", "-ec", script], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, D=d))
    p.err = open(os.path.join(d, "err")).read() if os.path.exists(os.path.join(d, "err")) else ""
    return p


def registry_requests(log, start_at, count):
    """(method, path) of the access-log lines docker-registry wrote to log after byte start_at. It logs a
    request once answered, so this waits up to 2 s for count lines, then returns what is there."""
    for _ in range(20):
        with open(log, errors="replace") as f:
            f.seek(start_at)
            seen = [tuple(l.split('"')[1].split(" ")[:2]) for l in f if l.startswith("127.0.0.1 - - [")]
        if len(seen) >= count:
            break
        time.sleep(0.1)
    return seen


def sections(text):
    """in_defaults' output as {name: env file as a dict} for each '== name' block that has KEY=value lines."""
    out, name = {}, None
    for line in text.splitlines():
        if line.startswith("== "):
            name = line[3:]
        elif name and "=" in line and not line.startswith("#"):
            out.setdefault(name, {}).update([line.split("=", 1)])
    return out


# What the seeded registry serves for this board (linux/arm/v7), known before boardpin runs: ^1.30 is 1.33.0. Every
# test/many tag shares its children, and multi 1.0 and 1.1 share their arm/v7 child, so the tags are checked too.
WANT_MULTI11 = expected["test/multi:1.1"]["platforms"]["linux/arm/v7"]
WANT_CARET = expected["test/many:1.33.0"]["platforms"]["linux/arm/v7"]
MULTI = f"image = {P}/test/multi\nversion = 1.0"
MULTI11 = f"image = {P}/test/multi\nversion = 1.1"
CARET = f"image = {P}/test/many\nversion = ^1.30\nenv_var = CARET_REF"


def pinned_dir():
    """A state with two services, one of them with a previous pin kept for rollback."""
    d = tempfile.mkdtemp(dir=work)
    rc1 = run(config(d, {"multi": MULTI, "caret": CARET}), "resolve")[0]
    rc2 = run(config(d, {"multi": MULTI11, "caret": CARET}), "resolve")[0]
    lock = json.load(open(os.path.join(d, "state", "lock.json")))
    ok = rc1 == 0 and rc2 == 0 and set(lock["services"]) == {"multi", "caret"} and \
        "previous" in lock["services"]["multi"]
    return d, ok


# B. A config cut down to its [boardpin] section, or to 0 bytes: boot renders the lock, prunes nothing.
for case in ("boardpin-section-only", "0-byte"):
    d, ok = pinned_dir()
    check(f"{case}: two services pinned, one with a previous pin", ok)
    cfg = os.path.join(d, "boardpin.ini")
    if case == "0-byte":
        # Nothing in it, so the defaults apply: a private /var/lib and /run, holding this lock.
        open(cfg, "w").close()
        lock_before = open(os.path.join(d, "state", "lock.json"), "rb").read()
        p = in_defaults(f"{bp} -c {cfg} --root {ROOT} --machine armv7l boot", d)
        lock = json.loads(lock_before)["services"]
        check("0-byte config: boot exits 2 naming file:1", "rc=2" in p.stdout and f"{cfg}:1: no [service" in p.err,
              p.stdout + p.stderr + p.err)
        files = sections(p.stdout)
        check("0-byte config: env files rendered from the lock, the lock unchanged",
              files.get("multi", {}).get("IMAGE_DIGEST") == WANT_MULTI11 == lock["multi"]["pin"]["digest"] and
              files.get("caret", {}).get("IMAGE_DIGEST") == WANT_CARET == lock["caret"]["pin"]["digest"] and
              files["multi"].get("IMAGE_TAG") == "1.1" and files["caret"].get("IMAGE_TAG") == "1.33.0" and
              files.get("images", {}).get("CARET_IMAGE") == f"{P}/test/many@{WANT_CARET}" and
              "lock unchanged" in p.stdout, p.stdout + p.stderr)
        continue
    text = open(cfg).read()
    with open(cfg, "w") as f:
        f.write(text[:text.index("[registry")])
    lines = text[:text.index("[registry")].count("\n")
    before = snapshot(d)
    rc, doc, err = run(cfg, "boot", net=False)
    check(f"{case}: boot exits 2 naming file:line where the config ends",
          rc == 2 and re.search(re.escape(cfg) + r":\d+: no \[service NAME\] section", err) and
          f"{cfg}:{lines}:" in err, (rc, err, lines))
    check(f"{case}: lock and env files byte for byte as they were", snapshot(d) == before,
          (before, snapshot(d)))
    # After a reboot /run is empty: boot renders the lock's env files again, the lock still untouched.
    lock_before = open(os.path.join(d, "state", "lock.json"), "rb").read()
    for f in os.listdir(os.path.join(d, "env")):
        os.unlink(os.path.join(d, "env", f))
    rc, doc, err = run(cfg, "boot", net=False)
    multi, caret = envfile(os.path.join(d, "env", "multi.env")), envfile(os.path.join(d, "env", "caret.env"))
    images = envfile(os.path.join(d, "env", "images.env")) or {}
    lock = json.loads(lock_before)["services"]
    check(f"{case}: after a reboot boot writes every service's env file from the lock, exit 2",
          rc == 2 and multi and caret and multi["IMAGE_DIGEST"] == lock["multi"]["pin"]["digest"] and
          caret["IMAGE_DIGEST"] == lock["caret"]["pin"]["digest"] and
          images.get("MULTI_IMAGE") == multi["IMAGE"] and images.get("CARET_IMAGE") == caret["IMAGE"],
          (rc, err, multi, caret, images))
    check(f"{case}: the lock is untouched, previous pins included",
          open(os.path.join(d, "state", "lock.json"), "rb").read() == lock_before)
    # resolve never prunes on an empty config either.
    before = snapshot(d)
    rc, doc, err = run(cfg, "resolve")
    check(f"{case}: resolve exits 2 and writes nothing", rc == 2 and snapshot(d) == before and
          f"{cfg}:" in err, (rc, err))
    # A config that names services again: pruning works as before, for services it no longer names.
    rc, doc, err = run(config(d, {"multi": MULTI11}), "boot", net=False)
    lock = json.load(open(os.path.join(d, "state", "lock.json")))
    check(f"{case}: a config naming services prunes the others", rc == 0 and set(lock["services"]) == {"multi"} and
          not os.path.exists(os.path.join(d, "env", "caret.env")), (rc, err, lock))

# B. A config that does not parse: the default state_dir and env_dir, rendered from the lock there.
d, ok = pinned_dir()
cfg = config(d, {"multi": MULTI11, "caret": CARET + "\nfrobnicate = 1"})
lock_before = open(os.path.join(d, "state", "lock.json"), "rb").read()
p = in_defaults(f"{bp} -c {cfg} --root {ROOT} --machine armv7l boot", d)
err = p.err
lock = json.loads(lock_before)["services"]
check("broken config: boot exits 2 with file:line", "rc=2" in p.stdout and f"{cfg}:" in err and
      "frobnicate" in err, p.stdout + p.stderr + err)
files = sections(p.stdout)
check("broken config: env files of every service rendered in /run/boardpin from /var/lib/boardpin",
      files.get("multi", {}).get("IMAGE_DIGEST") == WANT_MULTI11 == lock["multi"]["pin"]["digest"] and
      files.get("caret", {}).get("IMAGE_DIGEST") == WANT_CARET == lock["caret"]["pin"]["digest"] and
      files["multi"].get("IMAGE_TAG") == "1.1" and files["caret"].get("IMAGE_TAG") == "1.33.0" and
      files.get("images", {}).get("MULTI_IMAGE") == f"{P}/test/multi@{WANT_MULTI11}" and
      "from /var/lib/boardpin/lock.json" in p.stdout and "lock unchanged" in p.stdout, p.stdout + p.stderr)

# 10. --dry-run writes nothing, for boot as for resolve.
d = tempfile.mkdtemp(dir=work)
cfg = config(d, {"multi": MULTI})
rc, doc, err = run(cfg, "--dry-run", "boot")
check("dry-run boot on a first boot: exit 0, says what it would pin, writes nothing",
      rc == 0 and doc and doc["services"][0]["status"] == "ok" and not os.path.exists(os.path.join(d, "state")) and
      not os.path.exists(os.path.join(d, "env")), (rc, err, os.listdir(d)))
d = tempfile.mkdtemp(dir=work)
cfg = config(d, {"multi": MULTI})
rc, doc, err = run(cfg, "--dry-run", "resolve")
check("dry-run resolve writes nothing", rc == 0 and not os.path.exists(os.path.join(d, "state")) and
      not os.path.exists(os.path.join(d, "env")), (rc, err))
d, ok = pinned_dir()
cfg = config(d, {"multi": MULTI})        # back to 1.0: a real boot would move the pin
before = snapshot(d)
rc, doc, err = run(cfg, "boot", "--dry-run")
check("dry-run boot with a lock that would change: lock and env files untouched",
      rc == 0 and snapshot(d) == before and doc["services"][0]["tag"] == "1.0", (rc, err))

# 11. An option a command does not use is a usage error naming the option and the command.
cfg = config(tempfile.mkdtemp(dir=work), {"multi": MULTI})
for cmd, opt in [("detect", ["--insecure"]), ("detect", ["--dry-run"]), ("status", ["--dry-run"]),
                 ("report", ["--dry-run"]), ("inspect", ["--dry-run"]), ("resolve", ["--timeout", "5"]),
                 ("boot", ["--auth-file", "/dev/null"]), ("status", ["--ca-file", "/dev/null"]),
                 ("report", ["--insecure"])]:
    operands = [f"{P}/test/multi:1.0"] if cmd == "inspect" else []
    rc, doc, err = run(cfg, cmd, *opt, *operands)
    check(f"{cmd} {opt[0]}: exit 2 naming the option and the command",
          rc == 2 and f"option '{opt[0]}' is not used by '{cmd}'" in err and err.count("\n") == 0 and doc is None,
          (rc, err))
p = subprocess.run([bp, "--help"], capture_output=True, text=True)
block = p.stdout[p.stdout.index("  inspect"):] if "  inspect" in p.stdout else ""
check("--help lists each command's own options", p.returncode == 0 and "--insecure" in block and
      "--dry-run" in p.stdout[p.stdout.index("  resolve"):p.stdout.index("  status")], p.stdout)

# 11. report --json: one JSON document with the fields of its markdown row.
d = tempfile.mkdtemp(dir=work)
cfg = config(d, {"multi": MULTI})
run(cfg, "resolve")
rc, doc, err = run(cfg, "report")
p = subprocess.run(argv(cfg, "report", json_out=False), capture_output=True, text=True)
lock = json.load(open(os.path.join(d, "state", "lock.json")))["services"]["multi"]
check("report --json: the row's facts", rc == 0 and doc and doc["board"] == "Raspberry Pi 3 Model B Rev 1.2" and
      doc["machine"] == "armv7l" and doc["service"] == "multi" and doc["pinned"] is True and
      doc["digest"] == lock["pin"]["digest"] and doc["tag"] == "1.0" and doc["platform"] == lock["pin"]["platform"] and
      f"| {doc['board']} | {doc['os']} | {doc['machine']} | {doc['image']}:{doc['tag']} ({doc['platform']}) | Pinned |"
      in p.stdout and doc["userspace"]["bits"] == 32, (rc, doc, err, p.stdout))

# 17. resolve --json is byte for byte the document of DESIGN.md, in its key order and layout.
cfg = config(d, {"multi": MULTI, "nov6": f"image = {P}/test/nov6\nversion = 9.9"})
reg_log = os.path.join(work, "registry-plain.log")
reg_mark = os.path.getsize(reg_log)
p = subprocess.run(argv(cfg, "resolve"), capture_output=True, text=True, timeout=120)
lock = json.load(open(os.path.join(d, "state", "lock.json")))["services"]["multi"]
want = {"services": [
    {"name": "multi", "image": f"{P}/test/multi", "tag": "1.0", "index_digest": lock["index_digest"],
     "digest": lock["pin"]["digest"], "platform": lock["pin"]["platform"],
     "reference": f"{P}/test/multi@{lock['pin']['digest']}", "status": "ok"},
    {"name": "nov6", "image": f"{P}/test/nov6", "status": "error",
     "error": f"service 'nov6': {P}/test/nov6:9.9: not found (HTTP 404)"}],
    "platform": "linux/arm/v7",
    # multi is pinned and its tag has not moved: one HEAD. nov6 was never pinned: one GET, answered 404.
    "requests": {"head": 1, "get": 1, "blob": 0, "tag_pages": 0, "token": 0}}
check("resolve --json: byte for byte the contract's document", p.returncode == 1 and
      p.stdout == json.dumps(want, indent=2) + "\n", p.stdout)
seen = registry_requests(reg_log, reg_mark, 2)
check("resolve --json: the registry's access log saw the requests the document counts",
      seen == [("HEAD", "/v2/test/multi/manifests/1.0"), ("GET", "/v2/test/nov6/manifests/9.9")], seen)

# faultserver's hugenum: the index's only entry (linux/amd64, the platform asked for) gives its size as 1e400, a
# number no integer holds. boardpin refuses the index in one line naming the field; the pin it had stays, and
# neither the lock nor an env file is written.
F = env["FAULT_PLAIN"]
FAULT_REG = f"\n[registry {F}]\ninsecure = true\n"
d = tempfile.mkdtemp(dir=work)
rc0 = run(config(d, {"web": f"image = {F}/fault/ok\nversion = 1.0"}, extra=FAULT_REG), "--platform", "linux/amd64",
          "resolve")[0]
before = snapshot(d)
cfg = config(d, {"web": f"image = {F}/fault/hugenum\nversion = 1.0"}, extra=FAULT_REG)
rc, doc, err = run(cfg, "--platform", "linux/amd64", "resolve")
check("hugenum: an index entry of size 1e400 refused in one line naming the size; lock and env files untouched",
      rc0 == 0 and "state/lock.json" in before and rc == 1 and err.count("\n") == 0 and
      f"{F}/fault/hugenum:1.0" in err and "size" in err and snapshot(d) == before and
      doc and doc["services"][0]["status"] == "error", (rc0, rc, err, before, snapshot(d)))
p = subprocess.run([bp, "--root", ROOT, "--machine", "armv7l", "--platform", "linux/amd64", "--insecure", "--json",
                    "inspect", f"{F}/fault/hugenum:1.0"], capture_output=True, text=True, timeout=60)
check("hugenum: inspect refuses it in one line naming the size, exit 1",
      p.returncode == 1 and p.stdout == "" and p.stderr.count("\n") == 1 and "size" in p.stderr,
      (p.returncode, p.stdout, p.stderr))

# 2. SIGPIPE is ignored: a stdout whose reader is gone gives EPIPE, said on stderr, exit 1, not a signal.
r, w = os.pipe()
os.close(r)
p = subprocess.run([bp, "--root", ROOT, "--machine", "armv7l", "--json", "detect"], stdout=w,
                   stderr=subprocess.PIPE, text=True, timeout=60)
os.close(w)
check("stdout to a closed pipe: exit 1 and 'Broken pipe', not killed by SIGPIPE",
      p.returncode == 1 and "stdout: Broken pipe" in p.stderr, (p.returncode, p.stderr))

# 12. boot waits for a resolve that holds the state lock, a bounded time.
d = tempfile.mkdtemp(dir=work)
slow = config(d, {"stall": f"image = {F}/fault/stall\nversion = 1.0"}, name="slow.ini",
              extra=f"\n[registry {F}]\ninsecure = true\n")
good = config(d, {"multi": MULTI}, boot_wait=0)
holder = subprocess.Popen(argv(slow, "resolve"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
time.sleep(1.0)         # the resolve holds the lock and waits on the stalled registry
t0 = time.monotonic()
rc, doc, err = run(good, "boot")
waited = time.monotonic() - t0
holder.wait(timeout=120)
check("boot waits for a resolve holding the state lock, then pins", rc == 0 and holder.returncode == 1 and
      (envfile(os.path.join(d, "env", "multi.env")) or {}).get("IMAGE_TAG") == "1.0", (rc, err, waited))
holder = subprocess.Popen(argv(slow, "resolve"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(1.0)
holder.send_signal(signal.SIGSTOP)      # holds the lock for as long as it is stopped
try:
    t0 = time.monotonic()
    rc, doc, err = run(good, "boot")
    waited = time.monotonic() - t0
finally:
    holder.kill()
    holder.wait()
check("boot gives up after a bounded wait (10 s with boot_wait = 0), exit 1, one line when it starts "
      "waiting and one when it gives up",
      rc == 1 and 9.5 <= waited <= 30 and f"{d}/state" in err and err.count("\n") == 1 and
      err.startswith(f"boardpin: waiting for another boardpin (state_dir {d}/state is locked)\n"), (rc, waited, err))

harness.done()
