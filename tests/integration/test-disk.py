#!/usr/bin/python3
"""test-disk.py BOARDPIN WORKDIR ROOTS: with `pull = podman` (the real podman, vfs storage of each case's
own), an upgrade removes what boardpin pulled and keeps no more: `keep` images per service (2 by default,
1 for a service that says so), never an image pulled by hand, never one a container uses, and the bad
digest after a rollback. An image store on a small tmpfs, filled close to `min_free`, holds the next
upgrade with code low_disk and its reason, and nothing is pulled. The two cases run side by side.
Ends with 'N passed, N failed'."""
import json, os, re, subprocess, tempfile, threading
from concurrent.futures import ThreadPoolExecutor

import harness

bp, work, roots, env = harness.args()
P = env["REG_PLAIN"]
ROOT = os.path.join(roots, "rpi-4-b-arm64")     # a real board; the platform is forced to the host's
out_lock = threading.Lock()
results = []


def check(name, ok, detail=""):
    """Collected, printed in order at the end: the cases run side by side."""
    with out_lock:
        results.append((name, ok, detail))
    return ok


def push(repo, tag, text):
    return harness.push(P, repo, tag, text, created="2020-01-01T00:00:00Z", cmd=["/bin/cat", "/hello.txt"])


def case_dir(name, store=None):
    """WORKDIR/disk-NAME-* with a podman in bin/ that is the real one on this case's storage (store: its
    root, default DIR/podman-root); returns (dir, podman argv for the test itself)."""
    d = tempfile.mkdtemp(prefix=f"disk-{name}-", dir=work)
    return d, harness.podman_in(d, env, store)


def boardpin(d, cfg, *cmd):
    return harness.run([bp, "-c", cfg, "--root", ROOT, "--machine", "x86_64", "--platform", "linux/amd64", "-v",
                        "--json", *cmd], timeout=300, extra_env={"PATH": f"{d}/bin:{os.environ['PATH']}"})


def images(podman, repo):
    """The digests of repo's images in the store, each once."""
    p = subprocess.run(podman + ["images", "--format", "{{.Repository}} {{.Digest}}"], capture_output=True,
                       text=True, timeout=120)
    return {line.split()[1] for line in p.stdout.splitlines() if line.split()[0] == f"{P}/{repo}"}


def svc(doc, name):
    return next((s for s in (doc or {}).get("services", []) if s["name"] == name), {})


def lock(d):
    with open(os.path.join(d, "state", "lock.json")) as f:
        return json.load(f)["services"]


def prune_case():
    """web keeps 2 (the default), api keeps 1; a tag of web pulled by hand, a container on api's first."""
    d, podman = case_dir("prune")
    web, api = "disk/prune-web", "disk/prune-api"
    w = {1: push(web, "1.0", "web 1\n")}
    a = {1: push(api, "1.0", "api 1\n")}
    hand = push(web, "hand", "web by hand\n")
    fail = os.path.join(d, "health-fails")
    with open(os.path.join(d, "health"), "w") as f:
        f.write(f"#!/bin/sh\n! [ -e {fail} ]\n")
    os.chmod(os.path.join(d, "health"), 0o755)
    cfg = harness.config(d, {"web": f"image = {P}/{web}\nversion = 1.0\nhealth = exec:{d}/health",
                             "api": f"image = {P}/{api}\nversion = 1.0\nkeep = 1"},
                         {P: "insecure = true"}, {"timeout": 5, "pull": "podman"})
    r = boardpin(d, cfg, "resolve")
    check("prune: first resolve pins both (nothing pulled)", r.rc == 0, r.err)
    p = subprocess.run(podman + ["pull", f"{P}/{web}:hand"], capture_output=True, text=True, timeout=120)
    check("prune: a tag of web pulled by hand", p.returncode == 0 and images(podman, web) == {hand}, p.stderr)
    for i in (2, 3, 4):
        w[i], a[i] = push(web, "1.0", f"web {i}\n"), push(api, "1.0", f"api {i}\n")
        r = boardpin(d, cfg, "upgrade")
        check(f"prune: upgrade {i} takes both", r.rc == 0 and svc(r.doc, "web").get("action") == "upgraded" and
              svc(r.doc, "api").get("action") == "upgraded", (r.rc, r.doc, r.err))
        if i == 2:
            p = subprocess.run(podman + ["create", "--name", "uses-api-2", f"{P}/{api}@{a[2]}"],
                               capture_output=True, text=True, timeout=120)
            check("prune: a container made on api's image 2", p.returncode == 0, p.stderr)
    lk, have_w, have_a = lock(d), images(podman, web), images(podman, api)
    check("prune: web keeps exactly 2 it pulled (pin and previous), the hand-pulled tag survives",
          have_w == {hand, w[3], w[4]} and lk["web"].get("pulled") == [w[3], w[4]] and
          lk["web"]["pin"]["digest"] == w[4], (have_w, lk["web"].get("pulled"), w, hand))
    check("prune: api (keep = 1) keeps its pin; the image a container uses stays, on the list",
          have_a == {a[2], a[4]} and lk["api"].get("pulled") == [a[2], a[4]], (have_a, lk["api"].get("pulled"), a))
    check("prune: what was removed is said; the image in use is told at debug, not as a failure",
          f"removed the image {P}/{web}@{w[2]}" in r.err and f"{P}/{api}@{a[2]} is used by a container" in r.err
          and f"removed the image {P}/{api}@{a[3]}" in r.err, r.err)
    # A rollback: the bad digest was pulled, is neither pin nor previous, and goes.
    open(fail, "w").close()
    w[5] = push(web, "1.0", "web 5\n")
    r = boardpin(d, cfg, "upgrade")
    lk, have_w = lock(d), images(podman, web)
    check("prune: after a rollback the bad image is gone, the pin and previous stay",
          r.rc == 1 and svc(r.doc, "web").get("action") == "rolled_back" and lk["web"]["pin"]["digest"] == w[4]
          and have_w == {hand, w[3], w[4]} and lk["web"].get("pulled") == [w[3], w[4]],
          (r.rc, r.doc, have_w, lk["web"].get("pulled"), r.err))
    r = boardpin(d, cfg, "status")
    check("prune: status --json names keep and the images kept per service, and the store",
          svc(r.doc, "web").get("keep") == 2 and svc(r.doc, "web").get("kept_images") == [w[3], w[4]] and
          svc(r.doc, "api").get("keep") == 1 and svc(r.doc, "api").get("kept_images") == [a[2], a[4]] and
          (r.doc.get("disk") or {}).get("store") == os.path.join(d, "podman-root"), (r.rc, r.doc, r.err))


def low_disk_case():
    """A 32 MiB tmpfs as the image store, filled to 12 MiB free; min_free = 16M."""
    d = tempfile.mkdtemp(prefix="disk-low-mnt-", dir=work)
    store = os.path.join(d, "store")
    os.makedirs(store)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", store], capture_output=True, text=True)
    if not check("low disk: a 32 MiB tmpfs for the store", p.returncode == 0, p.stderr):
        return
    try:
        low_disk_on(os.path.join(store, "root"), store)
    finally:
        subprocess.run(["umount", "-l", store], capture_output=True)


def low_disk_on(root, mnt):
    d, podman = case_dir("low", store=root)
    repo = "disk/low"
    old = push(repo, "1.0", "low 1\n")
    cfg = harness.config(d, {"web": f"image = {P}/{repo}\nversion = 1.0"}, {P: "insecure = true"},
                         {"timeout": 5, "pull": "podman", "min_free": "16M"})
    r = boardpin(d, cfg, "resolve")
    check("low disk: first resolve", r.rc == 0, r.err)
    subprocess.run(podman + ["info"], capture_output=True, timeout=120)  # the store as podman sets it up
    st = os.statvfs(mnt)
    fill = os.path.join(mnt, "filler")
    with open(fill, "wb") as f:
        f.write(b"\0" * (st.f_bavail * st.f_frsize - 12 * 1024 * 1024))
    before = images(podman, repo)
    new = push(repo, "1.0", "low 2\n")
    want = re.compile(r"low disk: 1[12](\.\d)? MiB free on " + re.escape(root) + r", min_free 16 MiB, the image \d+ B$")
    raw = open(os.path.join(d, "state", "lock.json"), "rb").read()
    r = boardpin(d, cfg, "upgrade", "--dry-run")
    w = svc(r.doc, "web")
    check("low disk: upgrade --dry-run says it would hold with code low_disk; nothing pulled or written",
          r.rc == 0 and w.get("hold") == "low_disk" and want.match(w.get("reason") or "") and
          images(podman, repo) == before and open(os.path.join(d, "state", "lock.json"), "rb").read() == raw,
          (r.rc, w, r.err))
    r = boardpin(d, cfg, "upgrade")
    w = svc(r.doc, "web")
    check("low disk: held with code low_disk and its reason, exit 0",
          r.rc == 0 and w.get("action") == "held" and w.get("hold") == "low_disk" and
          want.match(w.get("reason") or "") and w.get("candidate") == new, (r.rc, w, r.err))
    after = images(podman, repo)
    check("low disk: nothing pulled, the store's images unchanged, the pin kept",
          after == before and lock(d)["web"]["pin"]["digest"] == old, (after, before))
    held = lock(d)["web"].get("held") or {}
    check("low disk: the lock holds the digest with code low_disk; the journal line says it was not pulled",
          held.get("code") == "low_disk" and held.get("digest") == new and
          f"service 'web': {new} not pulled: low disk: " in r.err, (held, r.err))
    r = boardpin(d, cfg, "status")
    disk = (r.doc or {}).get("disk") or {}
    check("low disk: status --json: the store, its free bytes and min_free",
          disk.get("store") == root and disk.get("free_bytes", 1 << 40) < 16 << 20 and disk.get("min_free") == "16 MiB"
          and disk.get("min_free_bytes") == 16 << 20, (r.rc, disk, r.err))
    os.unlink(fill)
    r = boardpin(d, cfg, "upgrade")
    check("low disk: with room again the same digest is pulled and taken",
          r.rc == 0 and svc(r.doc, "web").get("action") == "upgraded" and new in images(podman, repo) and
          "held" not in lock(d)["web"], (r.rc, r.doc, r.err))


with ThreadPoolExecutor(max_workers=2) as pool:
    for fut in [pool.submit(prune_case), pool.submit(low_disk_case)]:
        try:
            fut.result()
        except Exception as e:  # a case that crashed is a failure, never a skip
            check("case ran to its end", False, repr(e))
for name, ok, detail in results:
    harness.check(name, ok, detail)
harness.done()
