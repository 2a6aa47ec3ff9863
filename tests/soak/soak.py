#!/usr/bin/python3
"""soak.py BOARDPIN WORKDIR ROOTS [CYCLES]: a year of daily upgrades in minutes, against the registry of
tests/integration/registry.sh already started in WORKDIR. One service, `pull = podman` (the real podman,
vfs storage) into a 48 MiB tmpfs store, its tag moved every cycle (default 365), `verify =` a key made
for the run, `notify =` a webhook receiver on loopback (tests/integration/notifyreceiver.py) and
`metrics =` set. Releases are signed with that key, in cosign's classic form and bundle form by turns
(tests/integration/sigseed.py's builders). Every 10th release is broken (its health check fails at once:
rolled back, bad-listed, its image pruned), every 25th is unsigned (held, unsigned); now and then the
registry is out of reach (the run in a network namespace of its own), the store is filled below min_free
(held, low_disk), or boardpin is killed in the middle of a switch (the next run goes back to the old pin, a rollback). At the end:
the store holds at most `keep` of boardpin's images, the lock's size is bounded, no temp file and no
boardpin process is left, every rollback was notified and none twice unless a kill came between, and
the metrics file agrees with the lock (after every cycle that was not killed, too). Prints the RSS and time of the first and last 10 cycles side by side, the
store over time and the requests per cycle: figures, not assertions. Ends with 'N passed, N failed'.

run(bp, work, roots, cycles, say) is what tests/integration/test-soak.py runs with fewer cycles."""
import json, os, re, signal, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402
import notifyreceiver  # noqa: E402
import sigseed  # noqa: E402

KEEP = 2
CMD = ["/bin/cat", "/hello.txt"]  # what a release runs
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
    if i % 25 == 4:
        return "unsigned"
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


def sign(reg, name, repo, digest, i, key, pub):
    """Release i's digest signed with key as cosign signs it: the classic .sig tag for odd i, a bundle at
    the referrers tag for even i."""
    if i % 2:
        reg.push_signatures(repo, digest, *sigseed.classic_signature(key, name, digest))
        return
    status, body = reg.get_manifest(repo, digest)
    if status != 200:
        raise RuntimeError(f"soak: {repo}@{digest}: HTTP {status}")
    m, blobs = sigseed.bundle_manifest(sigseed.dsse_bundle(key, pub, sigseed.statement(name, digest)), digest, len(body),
                                       subject_type=sigseed.OCI_MANIFEST)
    reg.push_referrers(repo, digest, [m], blobs)


def metrics_of(path):
    """{name: [(labels, value)]} of a Prometheus text file; comments skipped."""
    out = {}
    with open(path) as f:
        for line in f:
            m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line.rstrip("\n"))
            if not m:
                continue
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
            out.setdefault(m.group(1), []).append((labels, float(m.group(3))))
    return out


def disagreement(metrics, lock):
    """What the metrics file says of service web that its lock entry does not; [] when they agree."""
    try:
        m = metrics_of(metrics)
        lk = json.load(open(lock))["services"]["web"]
    except (OSError, ValueError, KeyError) as e:
        return [repr(e)]

    def of(name):
        return [(l, v) for l, v in m.get(name, []) if l.get("service") == "web"]

    held = lk.get("held")
    want = {"boardpin_pin_info": [({"service": "web", "platform": lk["pin"].get("platform", ""),
                                    "digest": lk["pin"]["digest"]}, 1.0)],
            "boardpin_held": [({"service": "web"}, 1.0 if held else 0.0)],
            "boardpin_hold": [({"service": "web", "code": held.get("code", "unknown")}, 1.0)] if held else [],
            "boardpin_bad_digests": [({"service": "web"}, float(len(lk.get("bad", []))))],
            "boardpin_pulled_images": [({"service": "web"}, float(len(lk.get("pulled", []))))]}
    return [(name, of(name), w) for name, w in want.items() if of(name) != w]


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
    # mkdtemp's name may put '_' next to '-', which a repository name may not have.
    repo = "soak/web-" + "".join(c for c in os.path.basename(d) if c.isalnum())
    name = f"{reg}/{repo}"
    key, pub = os.path.join(d, "sign.pem"), os.path.join(d, "sign.pub")
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key], check=True,
                   capture_output=True)
    subprocess.run(["openssl", "ec", "-in", key, "-pubout", "-out", pub], check=True, capture_output=True)
    signer = sigseed.Registry(d, None, None, host=reg)
    receiver = notifyreceiver.Receiver()
    try:
        return cycles_with(bp, env, reg, root_fs, d, mnt, cycles, say, repo, name, key, pub, signer, receiver)
    finally:
        receiver.stop()


def cycles_with(bp, env, reg, root_fs, d, mnt, cycles, say, repo, name, key, pub, signer, receiver):
    checks, fig = [], {"time": [], "rss": [], "store": [], "requests": [], "wall": []}
    hook = f"127.0.0.1:{receiver.port}"
    metrics, lock = os.path.join(d, "metrics", "boardpin.prom"), os.path.join(d, "state", "lock.json")
    os.makedirs(os.path.dirname(metrics))
    podman = harness.podman_in(d, env, os.path.join(mnt, "root"))
    health = os.path.join(d, "health")
    with open(health, "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    os.chmod(health, 0o755)
    cfg = harness.config(d, {"web": f"image = {name}\nversion = 1.0\nhealth = exec:{d}/health\nverify = {pub}"},
                         {reg: "insecure = true", hook: "insecure = true"},
                         {"timeout": 5, "pull": "podman", "min_free": f"{MIN_FREE_MIB}M", "keep": KEEP,
                          "notify": f"webhook+http://{hook}/hook", "metrics": metrics})
    argv = [bp, "-c", cfg, "--root", root_fs, "--machine", "x86_64", "--platform", "linux/amd64", "--json"]
    environ = dict(os.environ, PATH=f"{d}/bin:{os.environ['PATH']}")
    sign(signer, name, repo, harness.push(reg, repo, "1.0", "release 0\n", cmd=CMD), 0, key, pub)
    r = subprocess.run(argv + ["resolve"], capture_output=True, text=True, env=environ, timeout=120)
    checks.append(("the first resolve pins the service", r.returncode == 0, r.stderr))
    counts, rolled, kills, seen, mismatch, forms = {}, set(), [], 0, [], {}
    deliveries = {}     # event id: (event, digest, [cycles it arrived in])
    for i in range(1, cycles + 1):
        start = time.monotonic()
        k = kind(i)
        digest = harness.push(reg, repo, "1.0", f"release {i}\n", cmd=CMD)
        if k != "unsigned":
            sign(signer, name, repo, digest, i, key, pub)
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
        want = {"down": "failed", "full": "held", "kill": "killed", "unsigned": "held"}.get(k) or \
            ("rolled_back" if i % 10 == 0 else "upgraded")
        # A cycle after a kill first rolls the open switch back, then moves to its own release.
        if action != want:
            checks.append((f"cycle {i} ({k}): {want}", False, (rc, w, err.decode(errors='replace')[-600:])))
        counts[action] = counts.get(action, 0) + 1
        if action == "rolled_back":
            rolled.add(digest)
        if k == "kill":
            # An interrupted switch goes back to the old pin (boardpin(8)): the next run rolls it back.
            kills.append(i)
            rolled.add(digest)
        elif disagreement(metrics, lock):
            mismatch.append((i, disagreement(metrics, lock)))
        if action == "upgraded":
            f = json.load(open(lock))["services"]["web"]["pin"].get("verified", {}).get("format")
            forms.setdefault(f, []).append(i)
        if k == "unsigned" and w.get("hold") != "unsigned":
            checks.append((f"cycle {i}: held with code unsigned", False, w))
        for q in receiver.requests[seen:]:
            try:
                events = json.loads(q["body"]).get("events", [])
            except (ValueError, AttributeError):
                events = [{"id": None, "event": f"not a JSON document: {q['body'][:80]!r}"}]
            for ev in events:
                deliveries.setdefault(ev.get("id"), (ev.get("event"), ev.get("digest"), []))[2].append(i)
        seen = len(receiver.requests)
        if k == "full":
            os.unlink(filler)
            if w.get("hold") != "low_disk":
                checks.append((f"cycle {i}: held with code low_disk", False, w))
        st = os.statvfs(mnt)
        fig["time"].append(took)
        fig["rss"].append(rss)
        fig["store"].append((st.f_blocks - st.f_bfree) * st.f_frsize)
        fig["requests"].append(sum(v for v in ((doc or {}).get("requests") or {}).values() if isinstance(v, int)))
        fig["wall"].append(time.monotonic() - start)
        if i % 50 == 0 or i == cycles:
            say(f"soak: cycle {i}/{cycles}: {counts}, store {fig['store'][-1] >> 10} KiB, {took:.1f} s")
    checks.append(("every cycle did what it had to (upgraded, rolled back, held, failed, killed)",
                   not any(n.startswith("cycle ") for n, ok, _ in checks), counts))
    checks.append(("releases taken verified in both forms, the classic .sig tag and a bundle",
                   set(forms) == {"simple-signing", "bundle"}, {f: len(c) for f, c in forms.items()}))
    notified = {e: v for e, v in deliveries.items() if v[0] == "rollback"}
    checks.append(("every rollback was notified (broken releases and interrupted switches), one event each",
                   sorted(v[1] for v in notified.values()) == sorted(rolled) and None not in deliveries,
                   (len(rolled), sorted(notified.values(), key=lambda v: v[2]))))
    # A run killed after its message was taken, before it marked the events sent, sends them again.
    again = {e: v for e, v in deliveries.items()
             if len(v[2]) > 1 and not any(v[2][0] <= c < v[2][-1] for c in kills)}
    checks.append(("no event delivered twice unless a kill came between", not again, again))
    kinds = [v[0] for v in deliveries.values()]
    say(f"soak: notifications: {len(receiver.requests)} messages, "
        f"{sum(len(v[2]) for v in deliveries.values())} events delivered, "
        + ", ".join(f"{kinds.count(e)} {e}" for e in sorted(set(kinds), key=str)) + " (distinct)")
    checks.append(("the metrics file agrees with the lock after every cycle not killed (pin digest, held, "
                   "bad list, pulled images)", not mismatch and os.path.exists(metrics), mismatch[:3]))
    lk = json.load(open(lock))["services"]["web"]
    q = subprocess.run(podman + ["images", "--format", "{{.Digest}}"], capture_output=True, text=True, timeout=120)
    store = set(q.stdout.split())
    checks.append((f"the store holds at most keep = {KEEP} images, all of them boardpin's and kept",
                   len(store) <= KEEP and store <= set(lk.get("pulled", [])) and lk["pin"]["digest"] in store,
                   (store, lk.get("pulled"), lk["pin"])))
    size = os.path.getsize(os.path.join(d, "state", "lock.json"))
    checks.append(("the lock stays small: bad list and pulled list capped",
                   size < 32 * 1024 and len(lk.get("bad", [])) <= 16 and len(lk.get("pulled", [])) <= 16,
                   (size, len(lk.get("bad", [])), len(lk.get("pulled", [])))))
    left = [n for sub in ("state", "env", "metrics") for n in os.listdir(os.path.join(d, sub)) if n.startswith(".")]
    checks.append(("no temp file left in state_dir, env_dir or the metrics file's directory", not left, left))
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
    say(f"{'with push, sign, checks':24}{mean(fig['wall'][:k]):12.2f}{mean(fig['wall'][-k:]):12.2f}")
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
