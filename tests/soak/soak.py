#!/usr/bin/python3
"""soak.py BOARDPIN WORKDIR ROOTS [CYCLES]: a year of daily upgrades in minutes, against the registry of
tests/integration/registry.sh already started in WORKDIR. One service, `pull = podman` (the real podman,
vfs storage) into a 48 MiB tmpfs store, its tag moved every cycle (default 365). Every 10th release is
broken (its health check fails at once: rolled back, bad-listed, its image pruned); now and then the registry is
out of reach (the run in a network namespace of its own), the store is filled below min_free (held,
low_disk), or boardpin is killed in the middle of a switch (the next run finishes it). At the end: the
store holds at most `keep` of boardpin's images, the lock's size is bounded, no temp file and no
boardpin process is left. Prints the RSS and time of the first and last 10 cycles side by side, the
store over time and the requests per cycle: figures, not assertions. Ends with 'N passed, N failed'.

run(bp, work, roots, cycles, say) is what tests/integration/test-soak.py runs with fewer cycles."""
import json, os, signal, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402

KEEP = 2
STORE_MIB = 48
MIN_FREE_MIB = 16


def kind(i):
    """What cycle i does besides moving the tag."""
    if i % 15 == 7:
        return "down"
    if i % 25 == 12:
        return "full"
    if i % 30 == 18:
        return "kill"
    return "normal"


def wait4(p, timeout):
    """Wait for Popen p; (exit status or -signal, max RSS in KiB). Killed at timeout."""
    end = time.monotonic() + timeout
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            p.returncode = os.waitstatus_to_exitcode(status)
            return p.returncode, ru.ru_maxrss
        if time.monotonic() > end:
            p.kill()
        time.sleep(0.02)


def stopped(pid):
    """True when pid stopped itself (BOARDPIN_STOP_AT) or has ended."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in "TtZX"
    except OSError:
        return True


def run(bp, work, roots, cycles, say=print):
    env = harness.load_env(work)
    reg = env["REG_PLAIN"]
    root_fs = os.path.join(roots, "rpi-4-b-arm64")
    d = tempfile.mkdtemp(prefix="soak-", dir=work)
    mnt = os.path.join(d, "store")
    os.makedirs(mnt)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={STORE_MIB}m", "tmpfs", mnt], capture_output=True,
                       text=True)
    if p.returncode != 0:
        return [("a tmpfs for the store", False, p.stderr)], {}
    try:
        return cycle_all(bp, env, reg, root_fs, d, mnt, cycles, say)
    finally:
        subprocess.run(["umount", "-l", mnt], capture_output=True)


def cycle_all(bp, env, reg, root_fs, d, mnt, cycles, say):
    checks, fig = [], {"time": [], "rss": [], "store": [], "requests": []}
    # mkdtemp's name may put '_' next to '-', which a repository name may not have.
    repo = "soak/web-" + "".join(c for c in os.path.basename(d) if c.isalnum())
    podman = harness.podman_in(d, env, os.path.join(mnt, "root"))
    health = os.path.join(d, "health")
    with open(health, "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    os.chmod(health, 0o755)
    cfg = harness.config(d, {"web": f"image = {reg}/{repo}\nversion = 1.0\nhealth = exec:{d}/health"},
                         {reg: "insecure = true"},
                         {"timeout": 5, "pull": "podman", "min_free": f"{MIN_FREE_MIB}M", "keep": KEEP})
    argv = [bp, "-c", cfg, "--root", root_fs, "--machine", "x86_64", "--platform", "linux/amd64", "--json"]
    environ = dict(os.environ, PATH=f"{d}/bin:{os.environ['PATH']}")
    harness.push(reg, repo, "1.0", "release 0\n", cmd=["/bin/cat", "/hello.txt"])
    r = subprocess.run(argv + ["resolve"], capture_output=True, text=True, env=environ, timeout=120)
    checks.append(("the first resolve pins the service", r.returncode == 0, r.stderr))
    counts = {}
    for i in range(1, cycles + 1):
        k = kind(i)
        harness.push(reg, repo, "1.0", f"release {i}\n", cmd=["/bin/cat", "/hello.txt"])
        # A broken release: its check cannot run, which fails at once. A check that runs and says
        # "unhealthy" is retried for 60 s (test-upgrade.py has that): 36 of them would be the soak's
        # whole time.
        os.chmod(health, 0o644 if i % 10 == 0 else 0o755)
        filler = os.path.join(mnt, "filler")
        if k == "full":
            st = os.statvfs(mnt)
            with open(filler, "wb") as f:
                f.write(b"\0" * max(0, st.f_bavail * st.f_frsize - (MIN_FREE_MIB - 4) * 1024 * 1024))
        cmd = (["unshare", "--net"] if k == "down" else []) + argv + ["upgrade"]
        e = dict(environ, BOARDPIN_STOP_AT="switched") if k == "kill" else environ
        t0 = time.monotonic()
        with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
            # Output to files, so that the test reaps the child itself (os.wait4) and reads its RSS.
            p = subprocess.Popen(cmd, stdout=fo, stderr=fe, env=e)
            if k == "kill":
                end = time.monotonic() + 300
                while not stopped(p.pid) and time.monotonic() < end:
                    time.sleep(0.05)
                os.kill(p.pid, signal.SIGKILL)
            rc, rss = wait4(p, 600)
            fo.seek(0)
            fe.seek(0)
            out, err = fo.read(), fe.read()
        took = time.monotonic() - t0
        try:
            doc = json.loads(out)
        except ValueError:
            doc = None
        w = next((s for s in (doc or {}).get("services", [])), {})
        action = w.get("action") if k != "kill" else "killed"
        want = {"down": "failed", "full": "held", "kill": "killed"}.get(k) or \
            ("rolled_back" if i % 10 == 0 else "upgraded")
        # A cycle after a kill first finishes the open switch; the digest it moves to is the same.
        if action != want:
            checks.append((f"cycle {i} ({k}): {want}", False, (rc, w, err.decode(errors='replace')[-600:])))
        counts[action] = counts.get(action, 0) + 1
        if k == "full":
            os.unlink(filler)
            if w.get("hold") != "low_disk":
                checks.append((f"cycle {i}: held with code low_disk", False, w))
        st = os.statvfs(mnt)
        fig["time"].append(took)
        fig["rss"].append(rss)
        fig["store"].append((st.f_blocks - st.f_bfree) * st.f_frsize)
        fig["requests"].append(sum(v for v in ((doc or {}).get("requests") or {}).values() if isinstance(v, int)))
        if i % 50 == 0 or i == cycles:
            say(f"soak: cycle {i}/{cycles}: {counts}, store {fig['store'][-1] >> 10} KiB, {took:.1f} s")
    checks.append(("every cycle did what it had to (upgraded, rolled back, held, failed, killed)",
                   not any(n.startswith("cycle ") for n, ok, _ in checks), counts))
    lk = json.load(open(os.path.join(d, "state", "lock.json")))["services"]["web"]
    q = subprocess.run(podman + ["images", "--format", "{{.Digest}}"], capture_output=True, text=True, timeout=120)
    store = set(q.stdout.split())
    checks.append((f"the store holds at most keep = {KEEP} images, all of them boardpin's and kept",
                   len(store) <= KEEP and store <= set(lk.get("pulled", [])) and lk["pin"]["digest"] in store,
                   (store, lk.get("pulled"), lk["pin"])))
    size = os.path.getsize(os.path.join(d, "state", "lock.json"))
    checks.append(("the lock stays small: bad list and pulled list capped",
                   size < 32 * 1024 and len(lk.get("bad", [])) <= 16 and len(lk.get("pulled", [])) <= 16,
                   (size, len(lk.get("bad", [])), len(lk.get("pulled", [])))))
    left = [n for sub in ("state", "env") for n in os.listdir(os.path.join(d, sub)) if n.startswith(".")]
    checks.append(("no temp file left in state_dir or env_dir", not left, left))
    real = os.path.realpath(argv[0])
    alive = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.path.realpath(f"/proc/{pid}/exe") == real:
                alive.append(pid)
        except OSError:
            pass
    checks.append(("no boardpin process left", not alive, alive))
    return checks, fig


def figures(fig, say=print):
    n = len(fig["time"])
    if n == 0:
        return
    k = min(10, n)

    def mean(xs):
        return sum(xs) / len(xs) if xs else 0

    say(f"{'':24}{'first ' + str(k):>12}{'last ' + str(k):>12}")
    say(f"{'time per cycle (s)':24}{mean(fig['time'][:k]):12.2f}{mean(fig['time'][-k:]):12.2f}")
    say(f"{'peak RSS, KiB (*)':24}{mean(fig['rss'][:k]):12.0f}{mean(fig['rss'][-k:]):12.0f}")
    say(f"{'requests per cycle':24}{mean(fig['requests'][:k]):12.1f}{mean(fig['requests'][-k:]):12.1f}")
    say("(*) the largest of boardpin and the podman runs it waited for (wait4's ru_maxrss)")
    step = max(1, n // 10)
    say("store used (KiB) over cycles: " + " ".join(f"{i + 1}:{fig['store'][i] >> 10}" for i in range(0, n, step)))


if __name__ == "__main__":
    bp_, work_, roots_ = sys.argv[1:4]
    checks_, fig_ = run(bp_, work_, roots_, int(sys.argv[4]) if len(sys.argv) > 4 else 365)
    figures(fig_)
    for name, ok, detail in checks_:
        harness.check(name, ok, detail)
    harness.done()
