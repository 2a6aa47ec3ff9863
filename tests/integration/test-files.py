#!/usr/bin/python3
"""test-files.py BOARDPIN WORKDIR ROOTS: the files boardpin reads and writes, under hostile conditions,
with the real binary against the seeded registries of registry.sh: a FIFO as lock.json or as the auth
file (must not hang), a read-only state_dir at boot, a world-writable env_dir with a planted temp file,
temp files a killed run left, an IPv6 image, one service whose env file cannot be written, 17 registry
hosts, a service named 'images', settings that are not used yet, and a lock held by another process.
Ends with 'N passed, N failed'."""
import fcntl, json, os, subprocess, sys, tempfile

import harness
from harness import check

bp, work, roots, env = harness.args()
P = env["REG_PLAIN"]
ROOT, MACHINE = os.path.join(roots, "rpi-3-b-raspbian32"), "armv7l"
TMP_PREFIX = ".boardpin-tmp-"


def config(d, services, boardpin="", auth=None):
    return harness.config(d, services, {P: "insecure = true"}, {"timeout": 5, "boot_wait": 1},
                          boardpin + (f"auth_file = {auth}\n" if auth else ""))


def line_of(path, needle):
    return next(i for i, l in enumerate(open(path), 1) if needle in l)


def run(cfg, *cmd, net=True, timeout=60):
    """(rc, stdout, stderr); rc is None when boardpin did not finish within timeout (a hang)."""
    r = harness.run([bp, "-c", cfg, "--root", ROOT, "--machine", MACHINE, *cmd], net=net, timeout=timeout)
    return r.rc, r.out, r.err


def in_namespace(script, d):
    return subprocess.run(["unshare", "--mount", "--net", "sh", "-ec", script], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, D=d))


def envfile(d, name):
    try:
        return dict(l.rstrip("\n").split("=", 1) for l in open(os.path.join(d, "env", name)) if not l.startswith("#"))
    except FileNotFoundError:
        return None


MULTI = f"image = {P}/test/multi\nversion = 1.0"
TWO = {"multi": MULTI, "other": f"image = {P}/test/multi\nversion = 1.1\nenv_var = OTHER_IMAGE"}


def resolved(services=TWO, **kw):
    d = tempfile.mkdtemp(dir=work)
    cfg = config(d, services, **kw)
    rc, out, err = run(cfg, "resolve")
    if rc != 0:
        raise SystemExit(f"setup: resolve failed: {err}")
    return d, cfg


# F. A FIFO at state_dir/lock.json: boot, status and resolve refuse it at once.
d = tempfile.mkdtemp(dir=work)
cfg = config(d, TWO)
os.makedirs(os.path.join(d, "state"))
for cmd, net in (("status", False), ("boot", False), ("resolve", True)):
    lock = os.path.join(d, "state", "lock.json")
    if os.path.lexists(lock):
        os.unlink(lock)     # boot and resolve move a lock they cannot read aside and write a new one
    os.mkfifo(lock)
    rc, out, err = run(cfg, cmd, net=net, timeout=20)
    check(f"FIFO lock.json: {cmd} does not hang and names it", rc is not None and "not a regular file" in err
          and "lock.json" in err, (rc, err))

# F. A FIFO as the auth file: resolve and inspect refuse it at once.
d = tempfile.mkdtemp(dir=work)
fifo = os.path.join(d, "auth.json")
os.mkfifo(fifo)
cfg = config(d, {"multi": MULTI}, auth=fifo)
rc, out, err = run(cfg, "resolve", timeout=20)
check("FIFO auth file: resolve does not hang and names it", rc == 1 and "not a regular file" in err and fifo in err,
      (rc, err))
try:
    p = subprocess.run([bp, "--auth-file", fifo, "inspect", f"{P}/test/multi:1.0"], capture_output=True, text=True,
                       timeout=20)
    rc, err = p.returncode, p.stderr
except subprocess.TimeoutExpired:
    rc, err = None, "hung"
check("FIFO auth file: inspect does not hang", rc is not None and rc != 0, (rc, err))

# D. A read-only state_dir: boot still renders every env file from the lock.
d, cfg = resolved()
for name in ("multi.env", "other.env", "images.env"):
    os.unlink(os.path.join(d, "env", name))
p = in_namespace(f'mount --bind "$D/state" "$D/state" && mount -o remount,bind,ro "$D/state" && '
                 f'{bp} -c {cfg} --root {ROOT} --machine {MACHINE} boot', d)
check("read-only state_dir: boot exits 0 and writes every env file from the lock",
      p.returncode == 0 and envfile(d, "multi.env") and envfile(d, "other.env") and
      (envfile(d, "images.env") or {}).get("OTHER_IMAGE", "").startswith(f"{P}/test/multi@sha256:"),
      p.stdout + p.stderr)

# G. A world-writable env_dir with a planted temp file: refused, the planted file never written.
d, cfg = resolved()
envd = os.path.join(d, "env")
os.chmod(envd, 0o1777)
victim = os.path.join(d, "victim")
with open(victim, "w") as f:
    f.write("precious\n")
os.link(victim, os.path.join(envd, ".multi.env.tmp"))
os.unlink(os.path.join(envd, "multi.env"))
rc, out, err = run(cfg, "boot", net=False)
check("world-writable env_dir: boot refuses it, naming the directory and mode",
      rc == 1 and f"'{envd}' is writable by others (mode 1777)" in err, (rc, err))
check("world-writable env_dir: the planted temp file is not written", open(victim).read() == "precious\n" and
      not os.path.exists(os.path.join(envd, "multi.env")), open(victim).read())
os.chmod(envd, 0o755)
os.chown(envd, 65534, 65534)
rc, out, err = run(cfg, "boot", net=False)
check("env_dir owned by another user: boot refuses it", rc == 1 and "is owned by uid 65534" in err, (rc, err))
os.chown(envd, 0, 0)

# G. Temp files a killed run left are swept by the next run; nothing else is touched.
d, cfg = resolved()
left = [os.path.join(d, "env", TMP_PREFIX + "0123456789abcdef.multi.env"),
        os.path.join(d, "env", ".other.env.tmp"),
        os.path.join(d, "state", TMP_PREFIX + "fedcba9876543210.lock.json"),
        os.path.join(d, "state", ".lock.json.tmp")]
for path in left:
    with open(path, "w") as f:
        f.write("half")
keep = os.path.join(d, "env", "notes.txt")
open(keep, "w").close()
rc, out, err = run(cfg, "boot", net=False)
check("leftover temp files: boot removes them and keeps the rest",
      rc == 0 and not any(os.path.exists(p) for p in left) and os.path.exists(keep), (rc, err, os.listdir(d + "/env")))

# C. An IPv6 image is refused at load with file:line; nothing is written.
d = tempfile.mkdtemp(dir=work)
cfg = config(d, {"multi": MULTI, "v6": "image = [::1]:5304/test/app\nversion = 1.0"})
rc, out, err = run(cfg, "resolve")
check("IPv6 image: refused at load with file:line, exit 2",
      rc == 2 and f"{cfg}:{line_of(cfg, '[::1]')}: image '[::1]:5304/test/app'" in err and
      not os.path.exists(os.path.join(d, "env")), (rc, err))

# C. One service whose env file cannot be written stops no other.
d, cfg = resolved()
for name in ("multi.env", "other.env", "images.env"):
    os.unlink(os.path.join(d, "env", name))
os.mkdir(os.path.join(d, "env", "multi.env"))
rc, out, err = run(cfg, "boot", net=False)
check("one env file cannot be written: boot fails naming that service",
      rc == 1 and "service 'multi'" in err, (rc, err))
check("one env file cannot be written: the other service and images.env are written",
      envfile(d, "other.env") and "MULTI_IMAGE" in (envfile(d, "images.env") or {}) and
      "OTHER_IMAGE" in (envfile(d, "images.env") or {}), os.listdir(os.path.join(d, "env")))

# J. 17 registry hosts are refused at load, at the line of the service that names the 17th.
d = tempfile.mkdtemp(dir=work)
services = {f"s{i}": f"image = r{i}.lan/app\nversion = 1.0" for i in range(16)}
cfg = config(d, services)
rc, out, err = run(cfg, "status", net=False)
check("16 registry hosts load", rc is not None and "registry hosts" not in err, (rc, err))
services["s16"] = "image = r16.lan/app\nversion = 1.0"
cfg = config(d, services)
rc, out, err = run(cfg, "status", net=False)
check("17 registry hosts: refused at load with file:line, exit 2",
      rc == 2 and f"{cfg}:{line_of(cfg, 'r16.lan')}: image 'r16.lan': more than 16 registry hosts" in err, (rc, err))

# 9. A service named images would share images.env: refused at load with file:line.
d = tempfile.mkdtemp(dir=work)
cfg = config(d, {"multi": MULTI, "images": MULTI.replace("1.0", "1.1")})
rc, out, err = run(cfg, "resolve")
check("service named images: refused at load with file:line, exit 2",
      rc == 2 and f"{cfg}:{line_of(cfg, '[service images]')}: service name 'images' is reserved" in err and
      not os.path.exists(os.path.join(d, "state", "lock.json")), (rc, err))

# 15. rollout = and mirror = are used, and say nothing when they are set (test-upgrade.py and
# test-mirror.py show what they do).
d = tempfile.mkdtemp(dir=work)
cfg = config(d, {"multi": MULTI}, boardpin="rollout = 50\n")
with open(cfg, "a") as f:
    f.write(f"\n[registry mirror.lan]\nmirror = https://mirror.lan:5000\n")
rc, out, err = run(cfg, "resolve")
check("rollout and mirror: resolve works and warns for neither",
      rc == 0 and "rollout" not in err and "mirror" not in err, (rc, err))

# 12. Another process holds the state lock: boot waits a bounded time, then fails and says who holds it.
d, cfg = resolved()
fd = os.open(os.path.join(d, "state"), os.O_RDONLY | os.O_DIRECTORY)
fcntl.flock(fd, fcntl.LOCK_EX)
rc, out, err = run(cfg, "boot", net=False, timeout=20)
os.close(fd)
check("state lock held: boot fails after its bounded wait and says another boardpin holds it",
      rc == 1 and "another boardpin" in err and "holds the lock" in err, (rc, err))

harness.done()
