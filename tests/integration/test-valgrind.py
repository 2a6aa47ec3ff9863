#!/usr/bin/python3
"""test-valgrind.py BOARDPIN WORKDIR ROOTS: every command under valgrind's memcheck, against the registries
of registry.sh (started and seeded in WORKDIR): detect, inspect over TLS with token auth and of a broken
registry, resolve cold, unchanged and with a failing service, a config that does not parse, boot offline
from the lock, status, report, and upgrade unchanged, switched, and rolled back after a failed health check.
A case passes only when valgrind ran, found no error (no invalid access, no use of uninitialised memory,
no definite or indirect leak) and boardpin exited with the code and said what that case expects.

BOARDPIN is the sanitizer build, which valgrind cannot run; the one valgrind runs is $BP_VALGRIND_BIN, or
else build/plain/boardpin, built here as tests/valgrind.sh builds it. Ends with 'N passed, N failed'."""
import json, os, shutil, subprocess, sys, tempfile

import harness
from harness import check

bp_san, work, roots, env = harness.args()
P, T, F = env["REG_PLAIN"], env["REG_TOKEN"], env["FAULT_PLAIN"]
PI3 = ["--root", os.path.join(roots, "rpi-3-b-raspbian32"), "--machine", "armv7l"]
PC = ["--root", os.path.join(roots, "x86-64-dell-latitude-e4310"), "--machine", "x86_64"]
# 99 is valgrind's own exit code for an error it found, one boardpin never uses.
VALGRIND = ["valgrind", "-q", "--tool=memcheck", "--error-exitcode=99", "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect"]

top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
bp = os.environ.get("BP_VALGRIND_BIN")
if not bp:
    bp = os.path.join(top, "build", "plain", "boardpin")
    p = subprocess.run(["make", "-s", "-C", top, "BUILDDIR=build/plain", "build/plain/boardpin"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        check("build boardpin without sanitizers for valgrind", False, p.stdout + p.stderr)
        harness.done()
if not shutil.which("valgrind"):
    check("valgrind is installed (tests/deps.txt lists it; run make deps as root)", False)
    harness.done()


# timeout is long: under valgrind a TLS handshake can hold the one transfer loop for seconds on a loaded machine,
# and the other transfers, answered meanwhile, would count as stalled.
def config(d, services, settings=None):
    return harness.config(d, services, {P: "insecure = true", T: f"ca_file = {env['CA_FILE']}",
                                        F: "insecure = true"},
                          dict({"auth_file": env["AUTH_FILE"], "timeout": 60, "boot_wait": 1}, **(settings or {})))


def argv(*args):
    return VALGRIND + [bp, *args]


def why(r, want):
    if r.rc == 99:
        return "valgrind found errors:\n" + r.err
    if r.rc is None:
        return r.err
    return f"exit {r.rc}, want {want}: {r.err}"


def vg(name, want, args, net=True, also=lambda r: True, timeout=300):
    """One command under valgrind: passes when it exits want, valgrind found nothing and also(result) holds."""
    r = harness.run(argv(*args), net=net, timeout=timeout)
    try:
        said = bool(also(r))
    except (KeyError, TypeError, AttributeError, IndexError) as e:       # output not of the expected shape
        said = False
        r.err += f" [{e!r}]"
    check(f"valgrind {name}", r.rc == want and said, why(r, want) if r.rc != want else (r.out[:400], r.err))
    return r


def service(r, name):
    return next((s for s in (r.doc or {}).get("services", []) if s["name"] == name), {})


# The rollback waits out the health check's 60 s, mostly asleep: it runs beside the other cases.
up = tempfile.mkdtemp(dir=work)
sick = {"web": f"image = {P}/test/multi\nversion = 1.0\nhealth = exec:/bin/false"}
r = harness.run([bp, "-c", config(up, sick), *PC, "--json", "resolve"])
check("rollback case: web pinned to test/multi:1.0 first", r.rc == 0, r.err)
sick["web"] = sick["web"].replace("1.0", "1.1")
rollback = subprocess.Popen(argv("-c", config(up, sick), *PC, "--json", "upgrade"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)

vg("detect --json", 0, [*PI3, "--json", "detect"], also=lambda r: r.doc["platform"] == "linux/arm/v7")
vg("inspect over TLS with token auth", 0,
   [*PI3, "--auth-file", env["AUTH_FILE"], "--ca-file", env["CA_FILE"], "--json", "inspect", f"{T}/test/multi:1.0"],
   also=lambda r: r.doc and r.doc["platform"] == "linux/arm/v7")
vg("inspect of a registry whose digests do not match", 1, [*PI3, "--insecure", "inspect", f"{F}/fault/tampered:1.0"],
   also=lambda r: "does not match" in r.err)

d = tempfile.mkdtemp(dir=work)
three = {"multi": f"image = {P}/test/multi\nversion = 1.0", "caret": f"image = {P}/test/many\nversion = ^1.30",
         "tok": f"image = {T}/test/multi\nversion = 1.1"}
cfg = config(d, three)
vg("resolve cold: tag list, token auth, TLS", 0, ["-c", cfg, *PI3, "--json", "resolve"],
   also=lambda r: [s["status"] for s in r.doc["services"]] == ["ok"] * 3)
vg("resolve unchanged", 0, ["-c", cfg, *PI3, "--json", "resolve"],
   also=lambda r: r.doc["requests"]["get"] == 0 and r.doc["requests"]["blob"] == 0)
vg("boot offline from the lock", 0, ["-c", cfg, *PI3, "--json", "boot"], net=False,
   also=lambda r: sum(r.doc["requests"].values()) == 0)
vg("status --json", 0, ["-c", cfg, *PI3, "--json", "status"],
   also=lambda r: all(s["env"] == "current" for s in r.doc["services"]))
vg("report", 0, ["-c", cfg, *PI3, "report", "multi"], also=lambda r: r.out.startswith("| Raspberry Pi 3"))
vg("resolve with a service that fails", 1,
   ["-c", config(d, dict(three, nov6=f"image = {P}/test/nov6\nversion = 9.9")), *PI3, "--json", "resolve"],
   also=lambda r: service(r, "nov6").get("status") == "error" and service(r, "multi").get("status") == "ok")
vg("resolve with a config that does not parse", 2,
   ["-c", config(d, {"multi": three["multi"] + "\nfrobnicate = 1"}), *PI3, "resolve"],
   also=lambda r: "frobnicate" in r.err)

d = tempfile.mkdtemp(dir=work)
web = {"web": f"image = {P}/test/multi\nversion = 1.0"}
harness.run([bp, "-c", config(d, web), *PC, "resolve"])
vg("upgrade unchanged", 0, ["-c", config(d, web), *PC, "--json", "upgrade"],
   also=lambda r: service(r, "web").get("action") == "unchanged")
web["web"] = web["web"].replace("1.0", "1.1")
vg("upgrade switched", 0, ["-c", config(d, web), *PC, "--json", "upgrade"],
   also=lambda r: service(r, "web").get("action") == "upgraded")

try:
    out, err = rollback.communicate(timeout=300)
except subprocess.TimeoutExpired:
    rollback.kill()
    out, err = rollback.communicate()
r = harness.Result(rollback.returncode, out, err, 0)
lock = json.load(open(os.path.join(up, "state", "lock.json")))["services"]["web"]
check("valgrind upgrade rolled back after a failed health check", r.rc == 1 and
      service(r, "web").get("action") == "rolled_back" and lock.get("bad") == [service(r, "web").get("candidate")],
      why(r, 1) if r.rc != 1 else (r.out[:400], r.err, lock))

harness.done()
