#!/usr/bin/python3
"""test-upgrade.py BOARDPIN WORKDIR ROOTS: `boardpin upgrade` against the real registry of registry.sh
(started and seeded in WORKDIR): the cost of a run where nothing moved, a moved tag taken with the previous
pin kept, a failed health check rolled back onto the bad list and not retried, min_age and rollout
holding a digest back (and --dry-run saying why), a failing pre-pull changing nothing, the real podman
pre-pulling, and two upgrades at once. Images are pushed here with the `created` time each case needs,
one repository per case. Unit restarts need systemd: the booted-system suite (tests/boot) has them.
Ends with 'N passed, N failed'."""
import json, os, shutil, subprocess, sys, tempfile, time

import harness
from harness import check, load_env

bp, work, roots = sys.argv[1], sys.argv[2], sys.argv[3]
env = load_env(work)
P = env["REG_PLAIN"]
ROOT = os.path.join(roots, "rpi-4-b-arm64")     # a real board; the platform is forced to the host's


def push(repo, tag, text, created):
    """A linux/amd64 OCI image whose one layer holds text and whose config says created; tag points to it."""
    return harness.push(P, repo, tag, text, created=created, cmd=["/bin/cat", "/hello.txt"])


ago = harness.ago
WEEK = dict(days=7)


def config(d, services, extra=""):
    return harness.config(d, services, {P: "insecure = true"}, {"timeout": 5}, extra)


def run(cfg, *cmd, path_env=None, timeout=180):
    return tuple(harness.run([bp, "-c", cfg, "--root", ROOT, "--machine", "x86_64", "--platform", "linux/amd64",
                              "--json", *cmd], timeout=timeout, extra_env={"PATH": path_env} if path_env else None))


def svc(doc, name):
    return next((s for s in (doc or {}).get("services", []) if s["name"] == name), {})


def read(d, *rel):
    try:
        with open(os.path.join(d, *rel), "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def lock(d):
    return json.loads(read(d, "state", "lock.json"))["services"]


def fresh(services, extra=""):
    d = tempfile.mkdtemp(dir=work)
    return d, config(d, services, extra)


def setup(case, services_of, extra="", created=None):
    """Push repo test/up-CASE:1.0, resolve it; returns (dir, config, old digest, repo)."""
    repo = f"test/up-{case}"
    old = push(repo, "1.0", f"{case} one\n", created or ago(**WEEK))
    d, cfg = fresh(services_of(repo), extra)
    rc, doc, err = run(cfg, "resolve")
    if rc != 0:
        check(f"{case}: first resolve", False, err)
    return d, cfg, old, repo


def one(repo, more=""):
    return {"web": f"image = {P}/{repo}\nversion = 1.0\n{more}"}


# 1. Nothing moved: one HEAD per service and no GET, nothing written but what was there.
d, cfg, old, repo = setup("still", lambda r: {"web": f"image = {P}/{r}\nversion = 1.0",
                                              "multi": f"image = {P}/test/multi\nversion = 1.0",
                                              "fixed": f"image = {P}/test/multi\nversion = 1.1\nupgrade = no"})
before = read(d, "state", "lock.json")
rc, doc, err = run(cfg, "upgrade")
req = (doc or {}).get("requests", {})
check("nothing moved: exit 0, every service unchanged",
      rc == 0 and [s["action"] for s in doc["services"]] == ["unchanged"] * 3, (rc, doc, err))
check("nothing moved: one HEAD per upgrade = yes service, no GET, no blob",
      req.get("head") == 2 and req.get("get") == 0 and req.get("blob") == 0 and req.get("tag_pages") == 0, req)
check("nothing moved: the lock is byte for byte as it was", read(d, "state", "lock.json") == before)
w = svc(doc, "web")
check("nothing moved: the JSON has digest, null candidate, the phase; no age (no config fetched)",
      w.get("digest") == old and w.get("candidate") is None and w.get("reason") is None and
      w.get("phase", {}).get("rollout") == 100 and w["phase"]["included"] is True and
      0 <= w["phase"]["place"] < 100 and w.get("age_s", 0) is None and w.get("tag") == "1.0" and
      w.get("image") == f"{P}/{repo}" and doc.get("platform") == "linux/amd64", w)
check("upgrade = no: reported unchanged, no network", svc(doc, "fixed").get("action") == "unchanged" and
      svc(doc, "fixed").get("reason") == "upgrade = no", svc(doc, "fixed"))

# 2. A moved tag with no units and no health: switched, previous kept, env file names the new digest.
d, cfg, old, repo = setup("moved", one)
new = push(repo, "1.0", "moved two\n", ago(**WEEK))
rc, doc, err = run(cfg, "upgrade")
w = svc(doc, "web")
e = lock(d)["web"]
envtext = (read(d, "env", "web.env") or b"").decode()
check("moved tag: upgraded, exit 0", rc == 0 and w.get("action") == "upgraded" and w.get("digest") == new and
      w.get("candidate") == new, (rc, w, err))
check("moved tag: the lock pins the new digest and keeps the old as previous",
      e["pin"]["digest"] == new and e["previous"]["digest"] == old and "bad" not in e and "held" not in e, e)
check("moved tag: the env file names the new digest", f"IMAGE_DIGEST={new}" in envtext, envtext)
rc, doc, err = run(cfg, "upgrade")
check("moved tag: the next run finds it unchanged", rc == 0 and svc(doc, "web").get("action") == "unchanged", doc)

# 3. A health check that fails: rolled back byte for byte, the digest on the bad list, exit 1, not retried.
d, cfg, old, repo = setup("sick", lambda r: one(r, "health = exec:/bin/false"))
env_before, lock_before = read(d, "env", "web.env"), lock(d)["web"]
bad = push(repo, "1.0", "sick two\n", ago(**WEEK))
rc, doc, err = run(cfg, "upgrade")
w = svc(doc, "web")
e = lock(d)["web"]
check("failed health: rolled back, exit 1", rc == 1 and w.get("action") == "rolled_back" and
      w.get("digest") == old and w.get("candidate") == bad, (rc, w, err))
check("failed health: the reason and the journal line say what and where to",
      "exited with status 1" in (w.get("reason") or "") and
      f"service 'web': {bad} failed its health check" in err and f"rolled back to {old}" in err, (w, err))
check("failed health: the new digest is on the bad list", e.get("bad") == [bad], e)
check("failed health: the env file is back byte for byte", read(d, "env", "web.env") == env_before)
check("failed health: the lock's pin and previous are as before",
      e["pin"] == lock_before["pin"] and e.get("previous") == lock_before.get("previous"), (e, lock_before))
rc, doc, err = run(cfg, "upgrade")
w = svc(doc, "web")
e = lock(d)["web"]
check("bad list: the next run holds it, saying why, exit 0",
      rc == 0 and w.get("action") == "held" and "bad list" in (w.get("reason") or "") and
      w.get("hold") == "bad" and w.get("digest") == old and w.get("candidate") == bad, (rc, w, err))
check("bad list: the lock records it held", e.get("held", {}).get("digest") == bad and
      "bad list" in e["held"]["reason"] and e["held"].get("code") == "bad", e)
rc, doc, err = run(cfg, "status")
s = svc(doc, "web")
check("status: shows the bad list, the held digest and the phase", rc in (0, 1) and s.get("bad") == [bad] and
      (s.get("held") or {}).get("digest") == bad and s["held"].get("code") == "bad" and
      s.get("phase", {}).get("digest") == bad, s)
newer = push(repo, "1.0", "sick three\n", ago(**WEEK))
with open(cfg, "a") as f:
    pass
cfg_ok = config(d, one(repo))
rc, doc, err = run(cfg_ok, "upgrade")
check("bad list: a newer digest is taken", rc == 0 and svc(doc, "web").get("action") == "upgraded" and
      lock(d)["web"]["pin"]["digest"] == newer and "held" not in lock(d)["web"], (rc, doc, err))

# A service never pinned before has nothing to go back to: it is left unpinned, the digest bad-listed.
repo = "test/up-first"
first = push(repo, "1.0", "first one\n", ago(**WEEK))
d, cfg = fresh(one(repo, "health = exec:/bin/false"))
rc, doc, err = run(cfg, "upgrade")
w = svc(doc, "web")
whole = json.loads(read(d, "state", "lock.json"))
check("no previous pin: failed, exit 1, left unpinned with no env file, the digest on its bad list",
      rc == 1 and w.get("action") == "failed" and "'web' is left unpinned" in (w.get("reason") or "") and
      "left unpinned" in err and "web" not in whole["services"] and read(d, "env", "web.env") is None and
      whole.get("unpinned", {}).get("web", {}).get("bad") == [first], (rc, w, err, whole))

# 4. min_age = 3d: a fresh image is held and --dry-run says why; a week-old one is taken.
d, cfg, old, repo = setup("young", one, extra="min_age = 3d")
lock_before, env_before = read(d, "state", "lock.json"), read(d, "env", "web.env")
young = push(repo, "1.0", "young two\n", ago(hours=1))
rc, doc, err = run(cfg, "upgrade", "--dry-run")
w = svc(doc, "web")
check("min_age, --dry-run: held, the reason gives the age and the minimum, nothing written",
      rc == 0 and w.get("action") == "held" and "min_age: image created 1h" in (w.get("reason") or "") and
      "needs 3d" in w["reason"] and abs(w.get("age_s", 0) - 3600) < 600 and
      read(d, "state", "lock.json") == lock_before, (rc, w, err))
rc, doc, err = run(cfg, "upgrade")
check("min_age: held, the env file as it was", rc == 0 and svc(doc, "web").get("action") == "held" and
      svc(doc, "web").get("hold") == "too_young" and lock(d)["web"]["held"].get("code") == "too_young" and
      read(d, "env", "web.env") == env_before and lock(d)["web"]["pin"]["digest"] == old, (rc, doc, err))
p = subprocess.run([bp, "-c", cfg, "--root", ROOT, "--machine", "x86_64", "--platform", "linux/amd64", "upgrade",
                    "--dry-run"], capture_output=True, text=True)
check("min_age: --dry-run without --json says why in words, with the phase and the age",
      p.returncode == 0 and "held" in p.stdout and "min_age: image created 1h" in p.stdout and
      f"new {young}: rollout 100%, this machine's place" in p.stdout and "min_age 259200 s" in p.stdout,
      p.stdout + p.stderr)
week = push(repo, "1.0", "young three\n", ago(**WEEK))
rc, doc, err = run(cfg, "upgrade")
check("min_age: an image a week old is taken", rc == 0 and svc(doc, "web").get("action") == "upgraded" and
      lock(d)["web"]["pin"]["digest"] == week, (rc, doc, err))
# per service, and a config with no created time at all
d, cfg, old, repo = setup("nocreated", lambda r: one(r, "min_age = 1h"))
none = push(repo, "1.0", "nocreated two\n", None)
rc, doc, err = run(cfg, "upgrade")
w = svc(doc, "web")
check("min_age per service: no 'created' is too young, with a warning",
      rc == 0 and w.get("action") == "held" and "no 'created' time" in (w.get("reason") or "") and
      "counted as too young" in err and w.get("age_s") is None, (rc, w, err))

# 5. rollout = 0 holds, rollout = 100 takes; the place is stable.
d, cfg, old, repo = setup("phase", one, extra="rollout = 0")
moved = push(repo, "1.0", "phase two\n", ago(**WEEK))
rc, doc, err = run(cfg, "upgrade")
w = svc(doc, "web")
rc2, doc2, _ = run(cfg, "upgrade", "--dry-run")
check("rollout = 0: held, its reason names the place", rc == 0 and w.get("action") == "held" and
      w.get("hold") == "phase" and
      "rollout" in (w.get("reason") or "") and w.get("phase", {}).get("included") is False and
      w["phase"]["rollout"] == 0 and lock(d)["web"]["pin"]["digest"] == old, (rc, w, err))
check("rollout: the place is the same on the next run", svc(doc2, "web").get("phase") == w.get("phase"),
      (w, doc2))
cfg = config(d, one(repo), extra="rollout = 100")
rc, doc, err = run(cfg, "upgrade")
check("rollout = 100: taken", rc == 0 and svc(doc, "web").get("action") == "upgraded" and
      lock(d)["web"]["pin"]["digest"] == moved, (rc, doc, err))

# 6. pull = podman, and the podman first in PATH fails: nothing changed, exit 1.
d, cfg, old, repo = setup("pullfail", one, extra="pull = podman")
bindir = os.path.join(d, "bin")
os.makedirs(bindir)
with open(os.path.join(bindir, "podman"), "w") as f:
    f.write(f"#!/bin/sh\necho \"podman called with: $*\"\necho 'Error: pull refused' >&2\nexit 125\n")
os.chmod(os.path.join(bindir, "podman"), 0o755)
lock_before, env_before = read(d, "state", "lock.json"), read(d, "env", "web.env")
target = push(repo, "1.0", "pullfail two\n", ago(**WEEK))
rc, doc, err = run(cfg, "-v", "upgrade", path_env=f"{bindir}:{os.environ['PATH']}")
w = svc(doc, "web")
check("failing pull: failed, exit 1, the reason names the pull", rc == 1 and w.get("action") == "failed" and
      "podman pull" in (w.get("reason") or "") and "status 125" in w["reason"] and
      "nothing changed" in w["reason"], (rc, w, err))
check("failing pull: podman ran as argv, its output in the log (-v: info on stderr)",
      f"podman called with: pull {P}/{repo}@{target}" in err and "Error: pull refused" in err, err)
check("failing pull: lock and env file byte for byte as they were",
      read(d, "state", "lock.json") == lock_before and read(d, "env", "web.env") == env_before)

# 7. The real podman (vfs storage under WORKDIR) pre-pulls from the test registry.
d, cfg, old, repo = setup("pull", one, extra="pull = podman")
bindir = os.path.join(d, "bin")
os.makedirs(bindir)
for sub in ("podman-root", "podman-run", "podman-tmp", "tmp"):
    os.makedirs(os.path.join(d, sub))
with open(os.path.join(d, "containers.conf"), "w") as f:
    f.write('[engine]\nevents_logger = "file"\ncgroup_manager = "cgroupfs"\n')
real = shutil.which("podman", path="/usr/bin:/bin:/usr/local/bin")
podman = [real, "--storage-driver", "vfs", "--root", f"{d}/podman-root", "--runroot", f"{d}/podman-run",
          "--tmpdir", f"{d}/podman-tmp"]
with open(os.path.join(bindir, "podman"), "w") as f:
    # Storage and policy of this test only; the pull itself is the real podman's, with boardpin's argv.
    f.write(f"#!/bin/sh\nexport CONTAINERS_CONF={d}/containers.conf "
            f"CONTAINERS_REGISTRIES_CONF={env['CONTAINERS_REGISTRIES_CONF']} TMPDIR={d}/tmp\n"
            f"[ \"$1\" = pull ] || exit 64\nshift\n"
            f"exec {' '.join(podman)} pull --signature-policy {env['CONTAINERS_POLICY']} --tls-verify=false \"$@\"\n")
os.chmod(os.path.join(bindir, "podman"), 0o755)
target = push(repo, "1.0", "pull two\n", ago(**WEEK))
t0 = time.monotonic()
rc, doc, err = run(cfg, "upgrade", path_env=f"{bindir}:{os.environ['PATH']}")
took = time.monotonic() - t0
q = subprocess.run(podman + ["image", "inspect", "--format", "{{.Digest}}", f"{P}/{repo}@{target}"],
                   capture_output=True, text=True, timeout=60,
                   env=dict(os.environ, CONTAINERS_CONF=f"{d}/containers.conf", TMPDIR=f"{d}/tmp"))
check(f"real podman pre-pull: upgraded ({took:.1f} s), the image is in podman's storage",
      rc == 0 and svc(doc, "web").get("action") == "upgraded" and q.stdout.strip() == target and
      lock(d)["web"]["pin"]["digest"] == target, (rc, doc, err, q.stdout, q.stderr))

# 8. Two upgrades at once: the second says it waits, then runs.
d, cfg, old, repo = setup("twice", lambda r: one(r, "health = exec:" + os.path.join(work, "up-slow-health")))
with open(os.path.join(work, "up-slow-health"), "w") as f:
    f.write("#!/bin/sh\nsleep 3\nexit 0\n")
os.chmod(os.path.join(work, "up-slow-health"), 0o755)
target = push(repo, "1.0", "twice two\n", ago(**WEEK))
argv = [bp, "-c", cfg, "--root", ROOT, "--machine", "x86_64", "--platform", "linux/amd64", "--json", "upgrade"]
first = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
time.sleep(1.0)
resolver = subprocess.Popen(argv[:-1] + ["resolve"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
rc, doc, err = run(cfg, "upgrade")
out1, err1 = first.communicate(timeout=120)
out3, err3 = resolver.communicate(timeout=120)
check("two at once: a resolve meanwhile waits too, says so, and pins what the upgrade took",
      resolver.returncode == 0 and "waiting for another boardpin (state_dir " in err3 and
      svc(json.loads(out3), "web").get("digest") == target, (resolver.returncode, out3, err3))
check("two at once: the first upgrades", first.returncode == 0 and
      svc(json.loads(out1), "web").get("action") == "upgraded", (first.returncode, out1, err1))
check("two at once: the second waited, said so once, then ran and found nothing to do",
      rc == 0 and err.count("waiting for another boardpin (state_dir ") == 1 and "is locked)" in err and
      svc(doc, "web").get("action") == "unchanged" and svc(doc, "web").get("digest") == target, (rc, doc, err))

harness.done()
