#!/usr/bin/python3
"""test-pin.py BOARDPIN WORKDIR ROOTS: resolve, boot, status and report against the real registries of
registry.sh (started and seeded in WORKDIR), on fixture roots of real boards (ROOTS, from mkroots.sh):
exact tags, ranges over many tags, per-arch tags, an SD card moved to another board with the network
gone, partial failure, a corrupt lock, a read-only env dir, a full disk, kill -9 mid-resolve, and the
env files read by docker-compose and a POSIX shell. Ends with 'N passed, N failed'."""
import glob, json, os, random, shutil, signal, subprocess, sys, tempfile, time

import harness
from harness import check

bp, work, roots, env = harness.args()
expected = json.load(open(os.path.join(work, "expected.json")))["images"]


def norm(p):
    parts = p.split("/")
    if parts[1] == "arm64" and len(parts) == 3:
        parts = parts[:2]
    return "/".join(parts)


def child(reg, image, platform):
    return {norm(k): v for k, v in expected[reg][image]["platforms"].items()}[platform]


BOARDS = {   # fixture root, kernel machine, platform boardpin must choose
    "pi-zero": ("rpi-zero-rev1.3", "armv6l", "linux/arm/v6"),
    "pi-3-raspbian": ("rpi-3-b-raspbian32", "armv7l", "linux/arm/v7"),
    "pi-4-64bit-kernel-32bit-userspace": ("rpi-4-b-arm64-kernel-armhf-userspace", "aarch64", "linux/arm/v7"),
    "pi-4-64bit": ("rpi-4-b-arm64", "aarch64", "linux/arm64"),
}


def config(d, services, boot_wait=1, extra=""):
    return harness.config(d, services,
                          {env["REG_PLAIN"]: "insecure = true", env["REG_BASIC"]: f"ca_file = {env['CA_FILE']}"},
                          {"auth_file": env["AUTH_FILE"], "timeout": 5, "boot_wait": boot_wait}, extra)


def run(cfg, board, *cmd, net=True, timeout=120):
    root, machine, _ = BOARDS[board]
    # net=False: a network namespace of its own, not even loopback is up
    return tuple(harness.run([bp, "-c", cfg, "--root", os.path.join(roots, root), "--machine", machine, "--json",
                              *cmd], net=net, timeout=timeout))


def envfile(d, name):
    try:
        return dict(l.rstrip("\n").split("=", 1) for l in open(os.path.join(d, "env", name)) if not l.startswith("#"))
    except FileNotFoundError:
        return None


P, B = env["REG_PLAIN"], env["REG_BASIC"]
SERVICES = {
    "multi": f"image = {P}/test/multi\nversion = 1.0",
    "listv2": f"image = {B}/test/multi-v2\nversion = 1.0\nenv_var = LIST_IMAGE",
    "caret": f"image = {P}/test/many\nversion = ^1.30",
    "tilde": f"image = {P}/test/many\nversion = ~1.29.4",
    "alpine": f"image = {P}/test/many\nversion = ^1.30-alpine",
    "perarch": (f"image = {P}/test/perarch\nversion = 1.0\ntag.linux/arm/v6 = {{version}}-armv6\n"
                "tag.linux/arm/v7 = {version}-raspberry\ntag.linux/arm64 = {version}-aarch64"),
}
TAGS = {"multi": "1.0", "listv2": "1.0", "caret": "1.33.0", "tilde": "1.29.11", "alpine": "1.31.0-alpine"}
PERARCH = {"linux/arm/v6": "1.0-armv6", "linux/arm/v7": "1.0-raspberry", "linux/arm64": "1.0-aarch64"}


def want_digest(name, platform):
    reg = "basic" if name == "listv2" else "plain"
    image = {"multi": "test/multi", "listv2": "test/multi-v2", "perarch": "test/perarch"}.get(name, "test/many")
    tag = PERARCH[platform] if name == "perarch" else TAGS[name]
    table = {norm(k): v for k, v in expected[reg][f"{image}:{tag}"]["platforms"].items()}
    order = {"linux/arm/v6": ["linux/arm/v6"], "linux/arm/v7": ["linux/arm/v7", "linux/arm/v6"],
             "linux/arm64": ["linux/arm64", "linux/arm/v7", "linux/arm/v6"]}[platform]
    return tag, next((table[p] for p in order if p in table), None)


# 1. Each board gets the right digest for every service, in lock, env files and images.env.
for board, (_, _, platform) in BOARDS.items():
    d = tempfile.mkdtemp(dir=work)
    cfg = config(d, SERVICES)
    rc, doc, err = run(cfg, board, "resolve")
    impossible = [n for n in SERVICES if want_digest(n, platform)[1] is None]
    check(f"{board}: resolve on {platform}, exit {1 if impossible else 0}",
          rc == (1 if impossible else 0) and doc and doc["platform"] == platform, err)
    images = envfile(d, "images.env") or {}
    for name in SERVICES:
        tag, digest = want_digest(name, platform)
        e = envfile(d, f"{name}.env") or {}
        if digest is None:      # test/many has no arm/v6 image: refused, nothing written
            res = next(s for s in doc["services"] if s["name"] == name)
            check(f"{board}: {name} refused", res["status"] == "error" and "needs linux/arm/v6" in res["error"]
                  and not e, res)
            continue
        var = "LIST_IMAGE" if name == "listv2" else f"{name.upper()}_IMAGE"
        ok = (e.get("IMAGE_TAG") == tag and e.get("IMAGE_DIGEST") == digest and
              e.get("IMAGE", "").endswith("@" + digest) and images.get(var) == e.get("IMAGE"))
        check(f"{board}: {name} -> {tag} {digest[:19]}", ok, e)
    if board == "pi-zero":
        zero_dir, zero_cfg = d, cfg
    if board == "pi-4-64bit":
        pi4_dir, pi4_cfg = d, cfg
        # Unchanged: one HEAD per exact-tag service, tag lists for ranges, no manifest GET, no blob.
        rc, doc, err = run(cfg, board, "resolve")
        req = doc and doc["requests"]
        check("unchanged: no GET, no blob, one HEAD per service",
              rc == 0 and req and req["get"] == 0 and req["blob"] == 0 and req["head"] == len(SERVICES), req or err)
        # Status agrees and report gives one row.
        rc, doc, err = run(cfg, board, "status")
        check("status: every env file current", rc == 0 and all(s["env"] == "current" for s in doc["services"]), doc)
        p = subprocess.run([bp, "-c", cfg, "--root", os.path.join(roots, BOARDS[board][0]), "--machine", "aarch64",
                            "report"], capture_output=True, text=True)
        check("report: one markdown row", p.returncode == 0 and p.stdout.count("\n") == 1 and
              p.stdout.startswith("| Raspberry Pi 4 Model B Rev 1.4 |") and "| aarch64 |" in p.stdout, p.stdout + p.stderr)

# 2. The SD card of the Pi 4 (64-bit OS) moves into a Pi Zero, and there is no network at all.
rc, doc, err = run(pi4_cfg, "pi-zero", "boot", net=False)
multi = envfile(pi4_dir, "multi.env") or {}
check("moved to a Pi Zero offline: multi gets the arm/v6 digest from the lock",
      multi.get("IMAGE_DIGEST") == child("plain", "test/multi:1.0", "linux/arm/v6") and
      multi.get("IMAGE_PLATFORM") == "linux/arm/v6", multi)
per = envfile(pi4_dir, "perarch.env") or {}
check("moved offline: the per-arch service keeps its previous pin and boot says so",
      rc == 1 and per.get("IMAGE_TAG") == "1.0-aarch64" and "perarch" in err, (rc, per, err))
rc, doc, err = run(pi4_cfg, "pi-zero", "status")
check("status after the move: perarch locked on another board",
      any(s["name"] == "perarch" and s["other_board"] for s in doc["services"]), doc)
rc, doc, err = run(pi4_cfg, "pi-zero", "boot")
per = envfile(pi4_dir, "perarch.env") or {}
errors = sorted(x["name"] for x in doc["services"] if x["status"] == "error") if doc else None
check("back online, boot resolves the per-arch tag for the Pi Zero (only the images without arm/v6 fail)",
      per.get("IMAGE_TAG") == "1.0-armv6" and errors == ["alpine", "caret", "tilde"], (rc, per, errors))

# 3. boot with a lock that answers needs no network.
d = tempfile.mkdtemp(dir=work)
cfg = config(d, {"multi": SERVICES["multi"], "perarch": SERVICES["perarch"]})
run(cfg, "pi-zero", "resolve")
rc, doc, err = run(cfg, "pi-zero", "boot", net=False)
check("boot offline with a lock made here: no request at all",
      rc == 0 and doc and sum(doc["requests"].values()) == 0, (rc, err))

# 4. Partial failure: the broken service keeps its previous pin, the others move on.
d = tempfile.mkdtemp(dir=work)
cfg = config(d, {"multi": SERVICES["multi"], "other": f"image = {P}/test/nov6\nversion = 1.0"})
run(cfg, "pi-3-raspbian", "resolve")
before = open(os.path.join(d, "env", "other.env")).read()
cfg = config(d, {"multi": f"image = {P}/test/multi\nversion = 1.1", "other": f"image = {P}/test/nov6\nversion = 9.9"})
rc, doc, err = run(cfg, "pi-3-raspbian", "resolve")
res = {s["name"]: s for s in doc["services"]} if doc else {}
check("partial failure: exit 1, error names the service",
      rc == 1 and res.get("other", {}).get("status") == "error" and "service 'other'" in res["other"]["error"]
      and res.get("multi", {}).get("status") == "ok", (rc, doc, err))
check("partial failure: the failed service's env file is untouched",
      open(os.path.join(d, "env", "other.env")).read() == before)
check("partial failure: the other service moved to 1.1",
      (envfile(d, "multi.env") or {}).get("IMAGE_TAG") == "1.1")

# 5. A Pi Zero asks for an image without arm/v6: one line that says what is offered and needed.
d = tempfile.mkdtemp(dir=work)
cfg = config(d, {"nov6": f"image = {P}/test/nov6\nversion = 1.0"})
rc, doc, err = run(cfg, "pi-zero", "resolve")
check("no arm/v6 for a Pi Zero", rc == 1 and "this board needs linux/arm/v6" in err and
      envfile(d, "nov6.env") is None, err)

# 5b. Tag lists come in pages (Link: rel="next"); a range sees all of them.
d = tempfile.mkdtemp(dir=work)
cfg = config(d, {"paged": f"image = {env['FAULT_PLAIN']}/fault/paged\nversion = ^1"},
             extra=f"\n[registry {env['FAULT_PLAIN']}]\ninsecure = true\n")
rc, doc, err = run(cfg, "pi-3-raspbian", "resolve")
check("a range over 6 pages of tags picks 1.9.4",
      rc == 0 and (envfile(d, "paged.env") or {}).get("IMAGE_TAG") == "1.9.4" and doc["requests"]["tag_pages"] == 6,
      (rc, doc and doc["requests"], err))

# 6. A corrupt lock is set aside with a warning and rebuilt.
d = tempfile.mkdtemp(dir=work)
cfg = config(d, {"multi": SERVICES["multi"]})
run(cfg, "pi-3-raspbian", "resolve")
with open(os.path.join(d, "state", "lock.json"), "w") as f:
    f.write('{"schema": 1, "services": {"multi": [')
rc, doc, err = run(cfg, "pi-3-raspbian", "resolve")
check("corrupt lock: warned, set aside, rebuilt", rc == 0 and "moved aside" in err and
      glob.glob(os.path.join(d, "state", "lock.json.corrupt-*")) and
      json.load(open(os.path.join(d, "state", "lock.json")))["schema"] == 1, err)
rc, doc, err = run(cfg, "pi-3-raspbian", "boot", net=False)
check("corrupt lock: boot never crashes", rc in (0, 1) and doc is not None, err)

# 7. Config errors: exit 2, nothing written.
d = tempfile.mkdtemp(dir=work)
cfg = config(d, {"multi": SERVICES["multi"] + "\nfrobnicate = 1"})
rc, doc, err = run(cfg, "pi-3-raspbian", "resolve")
check("config error: exit 2 naming file:line", rc == 2 and f"{cfg}:" in err and not os.path.exists(
    os.path.join(d, "state", "lock.json")) and not os.path.exists(os.path.join(d, "env")), err)


def in_namespace(script, d):
    return subprocess.run(["unshare", "--mount", "sh", "-ec", script], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, D=d))


# 8. A read-only env dir: nothing moves, the lock included.
d = tempfile.mkdtemp(dir=work)
cfg = config(d, {"multi": SERVICES["multi"]})
run(cfg, "pi-3-raspbian", "resolve")
lock_before = open(os.path.join(d, "state", "lock.json")).read()
cfg = config(d, {"multi": f"image = {P}/test/multi\nversion = 1.1"})
p = in_namespace(f'mount --bind "$D/env" "$D/env" && mount -o remount,bind,ro "$D/env" && '
                 f'{bp} -c {cfg} --root {roots}/rpi-3-b-raspbian32 --machine armv7l resolve', d)
check("read-only env dir: exit 1, one line, lock unchanged and said so",
      p.returncode == 1 and "Read-only file system" in p.stderr and "lock and env files as they were" in p.stderr and
      open(os.path.join(d, "state", "lock.json")).read() == lock_before, p.stderr)

# 8b. env_dir fills up after the lock moved: the line says so, the old env file stays whole, boot mends it.
env_before = open(os.path.join(d, "env", "multi.env")).read()
shutil.copytree(os.path.join(d, "env"), os.path.join(d, "env.keep"))
p = in_namespace(f'mount -t tmpfs -o size=8k tmpfs "$D/env" && cp "$D/env.keep/multi.env" "$D/env/" && '
                 f'(dd if=/dev/zero of="$D/env/filler" bs=1k 2>/dev/null || true) && '
                 f'! {bp} -c {cfg} --root {roots}/rpi-3-b-raspbian32 --machine armv7l resolve 2>"$D/err" && '
                 f'cmp "$D/env/multi.env" "$D/env.keep/multi.env" && cat "$D/err"', d)
lock_after = json.load(open(os.path.join(d, "state", "lock.json")))
check("full env dir: lock updated, said so, old env file whole",
      p.returncode == 0 and "lock updated, env files not all written" in p.stdout and
      lock_after["services"]["multi"]["pin"]["tag"] == "1.1", p.stdout + p.stderr)
rc, doc, err = run(cfg, "pi-3-raspbian", "boot", net=False)
check("boot rewrites the env file from the updated lock, offline",
      rc == 0 and (envfile(d, "multi.env") or {}).get("IMAGE_TAG") == "1.1" and
      open(os.path.join(d, "env", "multi.env")).read() != env_before, (rc, err))

# 9. A full disk under state_dir: the old lock stays whole.
cfg = config(d, {"multi": SERVICES["multi"]})     # back to 1.0: the lock must change
p = in_namespace(f'mkdir -p "$D/full" && mount -t tmpfs -o size=64k tmpfs "$D/full" && '
                 f'cp -a "$D/state/." "$D/full/" && (dd if=/dev/zero of="$D/full/filler" bs=4k 2>/dev/null || true) && '
                 f'sed "s#state_dir = .*#state_dir = $D/full#" {cfg} > "$D/full.ini" && '
                 f'! {bp} -c "$D/full.ini" --root {roots}/rpi-3-b-raspbian32 --machine armv7l resolve && '
                 f'cmp "$D/full/lock.json" "$D/state/lock.json" && ! ls -A "$D/full" | grep -q "^[.]boardpin-tmp-"', d)
check("full disk: resolve fails, the old lock is intact, no temp file left", p.returncode == 0,
      p.stdout + p.stderr)

# 10. kill -9 in the middle of resolve: every file is the old one or the new one, never a mix.
d = tempfile.mkdtemp(dir=work)
root = os.path.join(roots, "rpi-3-b-raspbian32")
renders = {}
for version in ("1.0", "1.1"):     # the two whole multi.env files a run can leave
    cfg = config(d, {"multi": f"image = {P}/test/multi\nversion = {version}", "caret": SERVICES["caret"]})
    subprocess.run([bp, "-c", cfg, "--root", root, "--machine", "armv7l", "resolve"], capture_output=True)
    renders[version] = open(os.path.join(d, "env", "multi.env")).read()
broken = []
for i in range(24):
    version = ("1.0", "1.1")[i % 2]
    cfg = config(d, {"multi": f"image = {P}/test/multi\nversion = {version}", "caret": SERVICES["caret"]})
    proc = subprocess.Popen([bp, "-c", cfg, "--root", root, "--machine", "armv7l", "resolve"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(random.uniform(0.0, 0.12))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    try:
        lock = json.load(open(os.path.join(d, "state", "lock.json")))
        lock_ok = lock["schema"] == 1 and set(lock["services"]) == {"multi", "caret"}
    except (ValueError, KeyError):
        lock_ok = False
    if not lock_ok or open(os.path.join(d, "env", "multi.env")).read() not in renders.values():
        broken.append(i)
check("kill -9 mid-resolve: lock and env files whole, old or new (24 kills)", not broken and
      len(set(renders.values())) == 2, broken)

# 11. Real consumers of the env files.
d = pi4_dir
with open(os.path.join(d, "compose.yml"), "w") as f:
    f.write('version: "3"\nservices:\n  multi:\n    image: ${MULTI_IMAGE}\n')
p = subprocess.run(["docker-compose", "-f", os.path.join(d, "compose.yml"), "--env-file",
                    os.path.join(d, "env", "images.env"), "config"], capture_output=True, text=True, timeout=60)
want = (envfile(d, "images.env") or {}).get("MULTI_IMAGE", "?")
check("docker-compose --env-file images.env turns ${MULTI_IMAGE} into the pinned reference",
      p.returncode == 0 and f"image: {want}" in p.stdout, p.stdout + p.stderr)
p = subprocess.run(["sh", "-c", f'. "{d}/env/multi.env" && . "{d}/env/images.env" && echo "$IMAGE $MULTI_IMAGE"'],
                   capture_output=True, text=True)
check("a POSIX shell sources both files", p.returncode == 0 and p.stdout.split() == [want, want], p.stdout + p.stderr)

harness.done()
