#!/usr/bin/python3
"""test-apply.py BOARDPIN WORKDIR ROOTS: a switch killed at every step, and what the next run makes of it.
`boardpin upgrade` runs against the real registry of registry.sh with `pull = podman` (a script in PATH
that stands in for podman) and `health = exec:` (a script); each is told through files in the case's
directory whether to block, so the test stops boardpin exactly there: after the intent (`podman image
inspect`), during the pull, during the health check. The points no outside program marks (after the
switch, before the restart, during the rollback) use boardpin's BOARDPIN_STOP_AT test aid, which stops
the process (SIGSTOP) there. At each point boardpin gets SIGKILL or SIGTERM, and then, on three copies of
what it left, `upgrade`, `resolve` and `boot` each run once. Prints one 'kill-matrix:' line per step and
signal, and one per signal for a first pin's pull. Also: two interrupted checks bad-list a digest; resolve
and a first pin refuse a bad-listed digest; resolve --allow-bad takes it off the list. Ends with
'N passed, N failed'.
Every row has its own case directory, repository and PATH, so rows run side by side in a few threads:
most of a row is waiting (the 60 s a failing check is retried). Each row records its checks and lines,
and they are printed in the row order, as if the rows had run one after another."""
import json, os, shutil, signal, subprocess, tempfile, threading, time
from concurrent.futures import ThreadPoolExecutor

import harness

bp, work, roots, env = harness.args()
P = env["REG_PLAIN"]
ROOT = os.path.join(roots, "rpi-4-b-arm64")     # a real board; the platform is forced to the host's
WORKERS = 6     # rows mostly sleep; more would only crowd a small machine's registry and cores
os.environ.pop("BOARDPIN_STOP_AT", None)    # only the row that stops boardpin may set it
rows = threading.local()    # the checks and matrix lines of the row this thread runs


def check(name, ok, detail=""):
    rows.checks.append((name, ok, detail))


def note(line):
    rows.lines.append(line)


def push(repo, tag, text):
    """A linux/amd64 OCI image a week old whose one layer holds text; tag points to it."""
    return harness.push(P, repo, tag, text, created=harness.ago(days=7))


def case_dir(prefix):
    """A new case directory under work, reaped when its row ends."""
    d = tempfile.mkdtemp(dir=work, prefix=prefix)
    rows.dirs.append(d)
    return d


def popen(cmd, env):
    """boardpin started in the background, ended when its row ends if the row did not end it."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    rows.procs.append(p)
    return p


def reap(dirs, procs):
    """End every boardpin a row started and every script it left blocking (their pids in DIR/pids): a
    SIGKILLed boardpin leaves its pull or health check behind, and a failed row may leave boardpin stopped."""
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.communicate()
    for d in dirs:
        for tag in ("", "-upgrade", "-resolve", "-boot"):
            try:
                pids = open(os.path.join(d + tag, "pids")).read().split()
            except FileNotFoundError:
                continue
            for pid in pids:
                try:    # only the script's own sleep: never another process that got its pid since
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        if f.read().split(b"\0")[:2] == [b"sleep", b"1000"]:
                            os.kill(int(pid), signal.SIGKILL)
                except (FileNotFoundError, ProcessLookupError):
                    pass


def script(path, text):
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + text)
    os.chmod(path, 0o755)


def setup(d, repo):
    """Config, fake podman and health script of case directory d; returns the config path.
    Files in d/ctl steer them: block-inspect, block-pull, block-check (write d/ctl/at-STEP, then wait for
    ever), fail (the health check exits 1)."""
    ctl = os.path.join(d, "ctl")
    os.makedirs(ctl, exist_ok=True)
    os.makedirs(os.path.join(d, "bin"), exist_ok=True)
    # A blocked script notes its pid (exec keeps it) before it marks the point: a SIGKILLed boardpin
    # cannot end what it started, so the row's reap() does.
    pids = os.path.join(d, "pids")
    script(os.path.join(d, "bin", "podman"),
           f'c={ctl}\n'
           f'case "$1" in\n'
           f'image) [ -e $c/block-inspect ] && {{ echo $$ >>{pids}; touch $c/at-inspect; exec sleep 1000; }}; exit 1 ;;\n'
           f'pull) [ -e $c/block-pull ] && {{ echo $$ >>{pids}; touch $c/at-pull; exec sleep 1000; }}; exit 0 ;;\n'
           f'esac\nexit 64\n')
    script(os.path.join(d, "health"),
           f'c={ctl}\n[ -e $c/block-check ] && {{ echo $$ >>{pids}; touch $c/at-check; exec sleep 1000; }}\n'
           f'[ -e $c/fail ] && exit 1\nexit 0\n')
    return harness.config(d, {"web": f"image = {P}/{repo}\nversion = 1.0\nhealth = exec:{d}/health"},
                          {P: "insecure = true"}, {"timeout": 5, "pull": "podman"})


def argv(cfg, *cmd):
    return [bp, "-c", cfg, "--root", ROOT, "--machine", "x86_64", "--platform", "linux/amd64", "--json", *cmd]


def cmd_env(d, stop_at=None):
    e = dict(os.environ, PATH=f"{d}/bin:{os.environ['PATH']}")
    e.pop("BOARDPIN_STOP_AT", None)
    if stop_at:
        e["BOARDPIN_STOP_AT"] = stop_at
    return e


def run(d, cfg, *cmd):
    return tuple(harness.run(argv(cfg, *cmd), extra_env={"PATH": f"{d}/bin:{os.environ['PATH']}"}))


def read(d, *rel):
    try:
        with open(os.path.join(d, *rel), "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def lock_of(d):
    text = read(d, "state", "lock.json")
    return json.loads(text) if text else {}


def web(d):
    return lock_of(d).get("services", {}).get("web", {})


def proc_state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "gone"


def wait_for(pred, what, timeout=150):    # a failing health check is retried for 60 s
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if pred():
            return True
        time.sleep(0.02)
    raise RuntimeError(f"timed out waiting for {what}")


# step: (how boardpin is stopped there, the txn step the lock must show then)
STEPS = {
    "intent": ("block-inspect", "pulling"),
    "pull": ("block-pull", "pulling"),
    "switch": ("stop:switched", "switching"),
    "restart": ("stop:restart", "checking"),
    "check": ("block-check", "checking"),
    "rollback": ("stop:rollback", "rolling_back"),
}


def start_case(case, step):
    """A service pinned to old, new pushed, and `upgrade` stopped at step; returns its parts."""
    repo = f"test/apply-{case}"
    d = case_dir(f"apply-{case}-")
    cfg = setup(d, repo)
    old = push(repo, "1.0", f"{case} old\n")
    rc, doc, err = run(d, cfg, "resolve")
    if rc != 0:
        raise RuntimeError(f"{case}: first resolve: {err}")
    new = push(repo, "1.0", f"{case} new\n")
    how, _ = STEPS[step]
    stop_at = None
    if how.startswith("stop:"):
        stop_at = how[5:]
    else:
        open(os.path.join(d, "ctl", how), "w").close()
    if step == "rollback":
        open(os.path.join(d, "ctl", "fail"), "w").close()
    before = {"env": read(d, "env", "web.env"), "lock": read(d, "state", "lock.json")}
    p = popen(argv(cfg, "upgrade"), env=cmd_env(d, stop_at))
    if stop_at:
        wait_for(lambda: proc_state(p.pid) in ("T", "t", "Z", "gone"), f"{case}: SIGSTOP at {stop_at}")
    else:
        marker = os.path.join(d, "ctl", "at-" + how.split("-")[1])
        wait_for(lambda: os.path.exists(marker) or p.poll() is not None, f"{case}: {marker}")
    return d, cfg, repo, old, new, p, before, stop_at


def stop(p, sig, stopped):
    try:
        os.kill(p.pid, sig)
        if stopped and sig != signal.SIGKILL:
            os.kill(p.pid, signal.SIGCONT)
    except ProcessLookupError:
        pass    # it ended before it got there: what it left is checked below
    out, err = p.communicate(timeout=60)
    return p.returncode, err


def clear_ctl(d):
    for f in os.listdir(os.path.join(d, "ctl")):
        os.unlink(os.path.join(d, "ctl", f))


def copy_case(d, tag):
    """A copy of case directory d (state, env, scripts) with its own config, for one next command."""
    c = d + "-" + tag
    shutil.copytree(d, c, symlinks=True)
    repo = None
    for line in open(os.path.join(d, "boardpin.ini")):
        if line.startswith("image = "):
            repo = line.split("/", 1)[1].strip()
    setup(c, repo)
    return c, os.path.join(c, "boardpin.ini")


def env_of(c, d):
    """c's web.env as it would read in d: the header names the lock's path, which a copy changes."""
    b = read(c, "env", "web.env")
    return b.replace(c.encode(), d.encode()) if b is not None and c != d else b


def outcome(d, old, new, before_env, orig=None):
    """What the lock and env file say now, in words for the matrix."""
    w = web(d)
    pin = w.get("pin", {}).get("digest")
    words = "new" if pin == new else "old" if pin == old else str(pin)
    if "txn" in w:
        words += f", txn {w['txn']['step']} open"
    if new in (w.get("bad") or []):
        words += ", bad-listed"
    if (w.get("interrupted") or {}).get("digest") == new:
        words += f", interrupted {w['interrupted']['count']}"
    envb = env_of(d, orig or d)
    if envb == before_env:
        words += ", env as before"
    elif envb and new.encode() in envb:
        words += ", env new"
    return words


def matrix_row(sig, step):
    """One row of the matrix: upgrade stopped at step, sent sig, and each next command on a copy."""
    signame = signal.Signals(sig).name
    txn_step = STEPS[step][1]
    case = f"{step}-{signame.lower()}"
    name = f"{step}, {signame}"
    try:
        d, cfg, repo, old, new, p, before, stop_at = start_case(case, step)
    except RuntimeError as e:
        check(f"{name}: stopped there", False, e)
        return
    at_kill = web(d).get("txn", {}).get("step")
    check(f"{name}: the lock records step '{txn_step}' before it is taken", at_kill == txn_step,
          (at_kill, web(d)))
    rc, err = stop(p, sig, stop_at is not None)
    w = web(d)
    after = outcome(d, old, new, before["env"])
    if sig == signal.SIGKILL:
        check(f"{name}: killed, the transaction left open", rc == -9 and w.get("txn", {}).get("step") == txn_step,
              (rc, w))
    else:
        want_bad = step == "rollback"
        check(f"{name}: exit 1 with one line, the old pin's files back, no transaction open",
              rc == 1 and "stopped by SIGTERM" in err and "txn" not in w and
              w.get("pin", {}).get("digest") == old and read(d, "env", "web.env") == before["env"] and
              (new in (w.get("bad") or [])) == want_bad, (rc, err, w))
        if step == "intent":
            check(f"{name}: the lock is byte for byte as before", read(d, "state", "lock.json") == before["lock"],
                  (read(d, "state", "lock.json"), before["lock"]))
        elif step != "rollback":
            # the one change: the digest boardpin pulled into the store is recorded for a later prune
            now = web(d)
            pulled = now.pop("pulled", None)
            check(f"{name}: the lock as before but for the pulled digest",
                  now == json.loads(before["lock"])["services"]["web"] and pulled == [new], (now, pulled))
    clear_ctl(d)
    results = {}
    for nxt in ("upgrade", "resolve", "boot"):
        c, ccfg = copy_case(d, nxt)
        nrc, ndoc, nerr = run(c, ccfg, nxt)
        nw = web(c)
        results[nxt] = (nrc, outcome(c, old, new, before["env"], d))
        if "txn" in nw:
            check(f"{name} -> {nxt}: the transaction is finished", False, (nrc, nw, nerr))
            continue
        bad = new in (nw.get("bad") or [])
        if nxt == "boot":
            # units are not up at boot: the old pin, which passed its check, and its env file byte for byte
            ok = nw["pin"]["digest"] == old and env_of(c, d) == before["env"] and \
                bad == (step == "rollback")
            if sig == signal.SIGKILL and step in ("restart", "check"):
                ok = ok and (nw.get("interrupted") or {}).get("count") == 1 and "cut short (1 of 2)" in nerr
            # a rollback this run finishes is a failure it reports (exit 1), once
            want_rc = 1 if sig == signal.SIGKILL and step == "rollback" else 0
            check(f"{name} -> boot: old pin, env file as before, bad-listed only after a failed check",
                  ok and nrc == want_rc, (nrc, nw, nerr))
        elif step == "rollback":
            # the check failed: the rollback is finished and the digest is never taken again
            ok = nw["pin"]["digest"] == old and bad and env_of(c, d) == before["env"]
            if nxt == "resolve":
                ok = ok and nrc == 1 and "bad list" in nerr
            else:
                ok = ok and nrc == (1 if sig == signal.SIGKILL else 0) and \
                    (ndoc or {}).get("services", [{}])[0].get("action") == "held"
            check(f"{name} -> {nxt}: rollback finished, {new[:15]} bad-listed and refused", ok,
                  (nrc, nw, nerr))
        else:
            ok = nrc == 0 and nw["pin"]["digest"] == new and not bad
            if sig == signal.SIGKILL and step in ("restart", "check"):
                ok = ok and "cut short (1 of 2); checking it again" in nerr
            if step == "pull" and nxt != "resolve":
                ok = ok and nw.get("pulled") == [new]
            again = step in ("restart", "check") and sig == signal.SIGKILL
            check(f"{name} -> {nxt}: finished, then {'checked again and kept' if again else 'the new digest taken'}",
                  ok, (nrc, nw, nerr))
    line = (f"kill-matrix: {step:8} {signame:7} -> lock after: {after}; "
            + "; ".join(f"next {k}: exit {v[0]}, {v[1]}" for k, v in results.items()))
    note(line)


def first_pull_row(sig):
    """A first pin (no pin yet) whose pull is cut short: the digest is recorded before the pull starts, so
    a prune can find what the runtime may have stored; the next run pins it and keeps the record."""
    signame = signal.Signals(sig).name
    name = f"first pin's pull, {signame}"
    repo = f"test/apply-first-pull-{signame.lower()}"
    d = case_dir(f"apply-first-pull-{signame.lower()}-")
    cfg = setup(d, repo)
    new = push(repo, "1.0", f"first pull {signame}\n")
    open(os.path.join(d, "ctl", "block-pull"), "w").close()
    p = popen(argv(cfg, "upgrade"), env=cmd_env(d))
    marker = os.path.join(d, "ctl", "at-pull")
    wait_for(lambda: os.path.exists(marker) or p.poll() is not None, f"{name}: {marker}")
    lk = lock_of(d)
    check(f"{name}: the digest is recorded before the pull starts",
          lk.get("unpinned_pulled", {}).get("web") == [new] and "web" not in lk.get("services", {}), lk)
    rc, err = stop(p, sig, False)
    lk = lock_of(d)
    ok = lk.get("unpinned_pulled", {}).get("web") == [new] and "web" not in lk.get("services", {}) and \
        read(d, "env", "web.env") is None
    if sig == signal.SIGTERM:
        ok = ok and rc == 1 and "stopped by SIGTERM while pulling" in err
    else:
        ok = ok and rc == -9
    check(f"{name}: no pin, no env file, the pull still recorded", ok, (rc, err, lk))
    after = "unpinned, pull recorded" if lk.get("unpinned_pulled", {}).get("web") == [new] else str(lk)
    clear_ctl(d)
    results = {}
    for nxt in ("upgrade", "resolve", "boot"):
        c, ccfg = copy_case(d, nxt)
        nrc, ndoc, nerr = run(c, ccfg, nxt)
        nlk = lock_of(c)
        nw = nlk.get("services", {}).get("web", {})
        ok = nrc == 0 and nw.get("pin", {}).get("digest") == new and nw.get("pulled") == [new] and \
            "unpinned_pulled" not in nlk and "txn" not in nw
        check(f"{name} -> {nxt}: pinned, and the pulled digest is the entry's", ok, (nrc, nlk, nerr))
        results[nxt] = (nrc, "pinned, pulled recorded" if ok else str(nw))
    note(f"kill-matrix: first-pin pull {signame:7} -> lock after: {after}; "
         + "; ".join(f"next {k}: exit {v[0]}, {v[1]}" for k, v in results.items()))


def kill_at_check(d, cfg, what):
    """`upgrade` run once more in case directory d and SIGKILLed in its health check."""
    open(os.path.join(d, "ctl", "block-check"), "w").close()
    marker = os.path.join(d, "ctl", "at-check")
    if os.path.exists(marker):      # the mark of the check killed before, not of this one
        os.unlink(marker)
    p = popen(argv(cfg, "upgrade"), env=cmd_env(d))
    wait_for(lambda: os.path.exists(marker) or p.poll() is not None, what)
    stop(p, signal.SIGKILL, False)


def twice():
    """A check interrupted twice bad-lists the digest: kill at the check, boot, kill at the check again, boot."""
    d, cfg, repo, old, new, p, before, _ = start_case("twice", "check")
    stop(p, signal.SIGKILL, False)
    clear_ctl(d)
    rc1, _, err1 = run(d, cfg, "boot")
    kill_at_check(d, cfg, "second check")
    clear_ctl(d)
    rc2, _, err2 = run(d, cfg, "boot")
    w = web(d)
    check("interrupted twice: the first boot restores the old pin, not bad-listed; the second bad-lists it",
          rc1 == 0 and "cut short (1 of 2)" in err1 and rc2 == 1 and "cut short 2 times" in err2 and
          w["pin"]["digest"] == old and w.get("bad") == [new] and "interrupted" not in w and
          read(d, "env", "web.env") == before["env"], (rc1, err1, rc2, err2, w))
    note(f"kill-matrix: check    SIGKILL x2 -> boot, upgrade killed at the check again, boot: exit {rc2}, "
         f"{outcome(d, old, new, before['env'])}")


def twice_up():
    """The recovering upgrade's own check killed too: the second interruption bad-lists it as well."""
    d, cfg, repo, old, new, p, before, _ = start_case("twice-up", "check")
    stop(p, signal.SIGKILL, False)
    kill_at_check(d, cfg, "re-run check")
    clear_ctl(d)
    rc, doc, err = run(d, cfg, "upgrade")
    w = web(d)
    check("interrupted twice: a recovering upgrade killed in its own re-check; the next run bad-lists it",
          rc == 1 and "cut short 2 times" in err and w["pin"]["digest"] == old and w.get("bad") == [new] and
          read(d, "env", "web.env") == before["env"], (rc, err, w))


def broken():
    """A boot whose config does not parse renders the pin from before an open switch, never the unchecked one."""
    d, cfg, repo, old, new, p, before, _ = start_case("broken", "check")
    stop(p, signal.SIGKILL, False)
    os.unlink(os.path.join(d, "env", "web.env"))
    with open(cfg, "w") as f:       # cut short after [boardpin]: its own dirs, no services
        f.write(f"[boardpin]\nstate_dir = {d}/state\nenv_dir = {d}/env\n")
    rc, _, err = run(d, cfg, "boot")
    check("config naming no services at boot: the env file of the pin before the open switch, exit 2, the lock "
          "untouched",
          rc == 2 and read(d, "env", "web.env") == before["env"] and web(d).get("txn", {}).get("step") == "checking",
          (rc, err, read(d, "env", "web.env")))


def allow_bad():
    """resolve refuses a bad-listed digest; --allow-bad SERVICE pins it and takes it off the list."""
    repo = "test/apply-allow"
    d = case_dir("apply-allow-")
    cfg = setup(d, repo)
    old = push(repo, "1.0", "allow old\n")
    run(d, cfg, "resolve")
    new = push(repo, "1.0", "allow new\n")
    open(os.path.join(d, "ctl", "fail"), "w").close()
    rc, doc, err = run(d, cfg, "upgrade")
    env_old = read(d, "env", "web.env")
    rc, doc, err = run(d, cfg, "resolve")
    w = web(d)
    check("resolve: a bad-listed digest is refused, one line naming it, previous pin kept, exit 1",
          rc == 1 and f"{new} is on the bad list" in err and w["pin"]["digest"] == old and
          read(d, "env", "web.env") == env_old and w.get("bad") == [new], (rc, err, w))
    rc, doc, err = run(d, cfg, "resolve", "--allow-bad", "web")
    w = web(d)
    rc2, sdoc, _ = run(d, cfg, "status")
    s = next((x for x in (sdoc or {}).get("services", []) if x["name"] == "web"), {})
    check("resolve --allow-bad web: pinned on purpose, off the bad list, status shows it",
          rc == 0 and w["pin"]["digest"] == new and "bad" not in w and s.get("bad") in ([], None) and
          s.get("digest") == new, (rc, err, w, s))
    rc, _, err = run(d, cfg, "resolve", "--allow-bad", "nope")
    check("resolve --allow-bad: a service the config lacks is a usage error", rc == 2 and "nope" in err, (rc, err))
    rc, _, err = run(d, cfg, "upgrade", "--allow-bad", "web")
    check("--allow-bad is resolve's alone", rc == 2 and "'--allow-bad' is not used by 'upgrade'" in err, (rc, err))


def first_pin():
    """A first pin that fails its check: the service is left unpinned, the digest stays bad-listed, and no
    later command pins it."""
    repo = "test/apply-first"
    d = case_dir("apply-first-")
    cfg = setup(d, repo)
    first = push(repo, "1.0", "first one\n")
    open(os.path.join(d, "ctl", "fail"), "w").close()
    rc, doc, err = run(d, cfg, "upgrade")
    lk = lock_of(d)
    check("first pin fails: exit 1, no pin, no env file, the digest on the bad list of the unpinned service",
          rc == 1 and "web" not in lk.get("services", {}) and read(d, "env", "web.env") is None and
          lk.get("unpinned", {}).get("web", {}).get("bad") == [first] and "left unpinned" in err, (rc, err, lk))
    clear_ctl(d)
    rc, doc, err = run(d, cfg, "upgrade")
    check("first pin failed: the next upgrade holds it (bad list)",
          rc == 0 and (doc or {}).get("services", [{}])[0].get("action") == "held" and
          "web" not in lock_of(d).get("services", {}), (rc, doc, err))
    rc, doc, err = run(d, cfg, "resolve")
    check("first pin failed: resolve refuses it too", rc == 1 and f"{first} is on the bad list" in err and
          read(d, "env", "web.env") is None, (rc, err))
    rc, doc, err = run(d, cfg, "boot")
    check("first pin failed: boot refuses it too", rc == 1 and f"{first} is on the bad list" in err and
          read(d, "env", "web.env") is None, (rc, err))


def record(job, *a):
    """job(*a) run in a worker thread; returns the checks and matrix lines it made, and what it raised."""
    rows.checks, rows.lines, rows.dirs, rows.procs = [], [], [], []
    try:
        job(*a)
        return rows.checks, rows.lines, None
    except Exception as e:     # re-raised in the main thread once the checks before it are printed
        return rows.checks, rows.lines, e
    finally:
        reap(rows.dirs, rows.procs)


jobs = [(matrix_row, sig, step) for sig in (signal.SIGKILL, signal.SIGTERM) for step in STEPS]
jobs += [(first_pull_row, sig) for sig in (signal.SIGKILL, signal.SIGTERM)]
jobs += [(twice,), (twice_up,), (broken,), (allow_bad,), (first_pin,)]
# the longest rows first, so that they do not start last and end the run alone
slow = {"rollback", "twice", "twice_up", "allow_bad", "first_pin"}
order = sorted(range(len(jobs)), key=lambda i: jobs[i][0].__name__ not in slow and jobs[i][-1] not in slow)
with ThreadPoolExecutor(max_workers=WORKERS) as pool:
    futures = {i: pool.submit(record, *jobs[i]) for i in order}
    matrix = []
    for i in range(len(jobs)):
        checks, lines, exc = futures[i].result()
        for c in checks:
            harness.check(*c)
        matrix += lines
        if exc is not None:
            raise exc

for line in matrix:
    print(line)


def left_behind():
    """The pids of scripts of this run still blocking: a 'sleep 1000' whose PATH starts in a case directory."""
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")[:2]
            with open(f"/proc/{pid}/environ", "rb") as f:
                environ = f.read()
        except OSError:
            continue
        if cmd == [b"sleep", b"1000"] and f"PATH={work}/apply-".encode() in environ:
            left.append(int(pid))
    return left


harness.check("every row ended what it started: no blocked script of this run is left", not left_behind(),
              left_behind())
harness.done()
