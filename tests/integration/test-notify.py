#!/usr/bin/python3
"""test-notify.py BOARDPIN WORKDIR ROOTS: notify = and upgrade = notify against the real registry of
registry.sh and a recording receiver on loopback (notifyreceiver.py; Debian 12 packages no ntfy server):
an ntfy message over TLS with the auth file's Basic credentials, checked against ntfy's publish API
(plain-text body, Title, Priority, Tags), sent once per rollback; a webhook's JSON document (boardpin(8),
NOTIFICATIONS) and a held digest sent once; a receiver that is down (queued, the outcome and exit status
unchanged, sent at the next run with the same id); one that hangs (bounded by timeout); plain http refused
unless insecure = true; topics, paths and passwords never on stderr; and upgrade = notify reporting a new
digest as available without pulling or switching. Cases run side by side. Ends with 'N passed, N failed'."""
import base64, gzip, hashlib, json, os, subprocess, tempfile, threading, time, urllib.request
from datetime import datetime, timezone

import harness
from harness import check
from notifyreceiver import Receiver

bp, work, roots, env = harness.args()
P = env["REG_PLAIN"]
CERTS = os.path.dirname(env["CA_FILE"])
ROOT = os.path.join(roots, "rpi-4-b-arm64")
TOPIC, HOOK_PATH, PASSWORD = "boardpin-topic-s3cr3t", "/hooks/p4th-s3cr3t", "pw-s3cr3t"
SECRETS = (TOPIC, "s3cr3t", PASSWORD, base64.b64encode(f"u:{PASSWORD}".encode()).decode())
stderr_seen = []


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def put(repo, kind, data, ref=None, ctype="application/octet-stream"):
    if ref:
        url, method = f"http://{P}/v2/{repo}/manifests/{ref}", "PUT"
    else:
        req = urllib.request.Request(f"http://{P}/v2/{repo}/blobs/uploads/", method="POST", data=b"")
        loc = urllib.request.urlopen(req).headers["Location"]
        loc = f"http://{P}{loc}" if loc.startswith("/") else loc
        url, method = f"{loc}{'&' if '?' in loc else '?'}digest={sha(data)}", "PUT"
    urllib.request.urlopen(urllib.request.Request(url, method=method, data=data,
                                                  headers={"Content-Type": ctype})).read()
    return sha(data)


def push(repo, text):
    """A linux/amd64 image with an empty layer, created now, its config naming text; tag 1.0 points to it."""
    layer = gzip.compress(b"\0" * 1024, mtime=0)
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "created":
                      datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "config": {"Labels": {"t": text}},
                      "rootfs": {"type": "layers", "diff_ids": [sha(b"\0" * 1024)]}}).encode()
    man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                 "digest": put(repo, "blob", cfg), "size": len(cfg)},
                      "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                  "digest": put(repo, "blob", layer), "size": len(layer)}]}).encode()
    return put(repo, "manifest", man, "1.0", "application/vnd.oci.image.manifest.v1+json")


def run(cfg, *cmd, timeout=120):
    res = harness.run([bp, "-c", cfg, "--root", ROOT, "--machine", "x86_64", "--platform", "linux/amd64",
                       "--json", *cmd], timeout=timeout)
    stderr_seen.append(res.err)
    return res


def setup(case, body, settings, registries=None, extra=""):
    """Repo test/notify-CASE at one digest, resolved; then a new digest pushed. (dir, cfg, old, new)."""
    repo = f"test/notify-{case}"
    old = push(repo, f"{case} one")
    d = tempfile.mkdtemp(dir=work)
    regs = {P: "insecure = true"}
    regs.update(registries or {})
    cfg = harness.config(d, {"web": f"image = {P}/{repo}\nversion = 1.0\n{body}"}, regs,
                         dict({"timeout": 5}, **settings), extra)
    rc, doc, err = run(cfg, "resolve")
    check(f"{case}: first resolve", rc == 0, err)
    return d, cfg, old, push(repo, f"{case} two")


def queue(d):
    try:
        return json.load(open(os.path.join(d, "state", "notify.json")))
    except FileNotFoundError:
        return None


def side_by_side(*cases):
    threads = [threading.Thread(target=c) for c in cases]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def stopped(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "T"


def case_rollback():
    """ntfy over TLS, Basic auth from the auth file: an upgrade killed before its check is rolled back by
    boot, which queues it with no network; the next upgrade sends it, once. (A failed health check waits
    out its 60 s deadline: test-upgrade.py has it; the event is the same.)"""
    rx = Receiver(cert=os.path.join(CERTS, "server.pem"), key=os.path.join(CERTS, "server.key"))
    host = f"localhost:{rx.port}"
    d = tempfile.mkdtemp(dir=work)
    auth = os.path.join(d, "auth.json")
    with open(auth, "w") as f:
        json.dump({"auths": {host: {"auth": base64.b64encode(f"u:{PASSWORD}".encode()).decode()}}}, f)
    d, cfg, old, new = setup("rollback", "health = exec:/bin/true",
                             {"notify": f"ntfy+https://{host}/{TOPIC}", "auth_file": auth},
                             {host: f"ca_file = {env['CA_FILE']}"})
    argv = [bp, "-c", cfg, "--root", ROOT, "--machine", "x86_64", "--platform", "linux/amd64", "upgrade"]
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, BOARDPIN_STOP_AT="restart"))
    end = time.time() + 60
    while time.time() < end and p.poll() is None and not stopped(p.pid):
        time.sleep(0.05)
    p.kill()
    stderr_seen.append(p.communicate()[1])
    res = harness.run([bp, "-c", cfg, "--root", ROOT, "--machine", "x86_64", "--platform", "linux/amd64", "boot"],
                      net=False)
    stderr_seen.append(res.err)
    q = (queue(d) or {}).get("queue", [])
    check("rollback: boot (no network) takes the cut-short switch back and queues one rollback, sends nothing",
          res.rc == 0 and len(q) == 1 and q[0]["event"] == "rollback" and q[0]["digest"] == new and
          not rx.requests, (res.rc, res.err, q, len(rx.requests)))
    rc, doc, err = run(cfg, "upgrade")
    r = rx.requests
    check("rollback: the next upgrade sends one POST to the topic", len(r) == 1 and r[0]["method"] == "POST" and
          r[0]["path"] == f"/{TOPIC}", [(x["method"], x["path"]) for x in r])
    if r:
        h, body = r[0]["headers"], r[0]["body"].decode()
        check("rollback: ntfy's publish API: plain text, Title, Priority 4 (high), Tags",
              h.get("content-type", "").startswith("text/plain") and "boardpin on" in h.get("title", "") and
              "1 rollback" in h.get("title", "") and h.get("priority") == "4" and
              h.get("tags", "").split(",")[:2] == ["warning", "rollback"], h)
        check("rollback: the body names the service, the digest and the queued event's id",
              body.startswith("web: rolled back from " + new) and q and f"(id {q[0]['id']})" in body, body)
        check("rollback: Basic credentials from the auth file",
              h.get("authorization") == "Basic " + base64.b64encode(f"u:{PASSWORD}".encode()).decode(), h)
    rc, doc, err = run(cfg, "upgrade")
    check("rollback: the next run sends nothing more", rc == 0 and len(rx.requests) == 1,
          (rc, len(rx.requests), err))
    rc, doc, err = run(cfg, "status")
    n = (doc or {}).get("notify") or {}
    check("rollback: status --json gives the last result, scheme://host only",
          n.get("result") == "ok" and n.get("target") == f"ntfy+https://{host}" and n.get("queued") == 0, doc)
    rx.stop()


def case_held():
    """A webhook over plain http (insecure = true): held is one JSON document, not repeated daily."""
    rx = Receiver()
    host = f"127.0.0.1:{rx.port}"
    d, cfg, old, new = setup("held", "", {"notify": f"webhook+http://{host}{HOOK_PATH}", "notify_on": "held",
                                          "min_age": "30d"}, {host: "insecure = true"})
    rc, doc, err = run(cfg, "upgrade")
    w = (doc or {}).get("services", [{}])[0]
    check("held: held, exit 0", rc == 0 and w.get("action") == "held", (rc, doc, err))
    r = rx.requests
    check("held: one POST to the webhook's path", len(r) == 1 and r[0]["path"] == HOOK_PATH, r)
    if r:
        doc1 = json.loads(r[0]["body"])
        e = (doc1.get("events") or [{}])[0]
        check("held: the documented schema",
              r[0]["headers"].get("content-type") == "application/json" and doc1.get("schema") == 1 and
              isinstance(doc1.get("host"), str) and doc1.get("platform") == "linux/amd64" and
              doc1.get("time", "").endswith("Z") and len(doc1["events"]) == 1 and e.get("event") == "held" and
              e.get("service") == "web" and e.get("digest") == new and e.get("code") == "too_young" and
              "min_age" in e.get("reason", "") and len(e.get("id", "")) == 32, doc1)
    rc, doc, err = run(cfg, "upgrade")
    check("held: the next run, still held, sends nothing", rc == 0 and len(rx.requests) == 1,
          (rc, len(rx.requests), err))
    rx.stop()


def case_down():
    """Receiver down: warning, queued, outcome unchanged; the next run delivers it with the same id."""
    gone = Receiver()      # a port known free, then closed: nothing listens on it
    port = gone.port
    gone.stop()
    host = f"127.0.0.1:{port}"
    d, cfg, old, new = setup("down", "", {"notify": f"webhook+http://{host}{HOOK_PATH}",
                                          "notify_on": "upgraded"}, {host: "insecure = true"})
    rc, doc, err = run(cfg, "upgrade")
    w = (doc or {}).get("services", [{}])[0]
    q = (queue(d) or {}).get("queue", [])
    check("down: upgraded, exit 0, a warning naming webhook+http://host only",
          rc == 0 and w.get("action") == "upgraded" and f"notify: webhook+http://{host} did not answer" in err,
          (rc, doc, err))
    check("down: the event waits in state_dir/notify.json (0600)",
          len(q) == 1 and q[0]["event"] == "upgraded" and q[0]["digest"] == new and
          os.stat(os.path.join(d, "state", "notify.json")).st_mode & 0o777 == 0o600, queue(d))
    rc, doc, err = run(cfg, "status")
    check("down: status says queued", ((doc or {}).get("notify") or {}).get("result") == "queued", doc)
    rx = Receiver(port=port)
    rc, doc, err = run(cfg, "upgrade")
    r = rx.requests
    ids = [e["id"] for e in json.loads(r[0]["body"])["events"]] if r else []
    check("down: the next run sends it, with the same id, and empties the queue",
          rc == 0 and len(r) == 1 and q and ids == [q[0]["id"]] and queue(d)["queue"] == [], (rc, ids, q, err))
    rx.stop()


def case_hang():
    """A receiver that never answers costs at most the timeout; the upgrade's outcome stands."""
    rx = Receiver()
    rx.answer = None
    host = f"127.0.0.1:{rx.port}"
    d, cfg, old, new = setup("hang", "", {"notify": f"ntfy+http://{host}/{TOPIC}", "notify_on": "upgraded",
                                          "timeout": 2}, {host: "insecure = true"})
    res = run(cfg, "upgrade")
    w = (res.doc or {}).get("services", [{}])[0]
    check("hang: upgraded, exit 0, within the timeout and a margin", res.rc == 0 and
          w.get("action") == "upgraded" and res.took < 15 and len(queue(d)["queue"]) == 1, (res.rc, res.took,
                                                                                             res.err))
    rx.stop()


def case_monitor():
    """upgrade = notify: reported available, nothing pulled or switched; notified once."""
    rx = Receiver()
    host = f"127.0.0.1:{rx.port}"
    d, cfg, old, new = setup("monitor", "upgrade = notify", {"notify": f"ntfy+http://{host}/{TOPIC}",
                                                             "pull": "podman"}, {host: "insecure = true"})
    env_before = open(os.path.join(d, "env", "web.env")).read()
    lock_before = open(os.path.join(d, "state", "lock.json")).read()
    rc, doc, err = run(cfg, "upgrade")
    w = (doc or {}).get("services", [{}])[0]
    check("monitor: action available, candidate the new digest, exit 0",
          rc == 0 and w.get("action") == "available" and w.get("candidate") == new and w.get("digest") == old,
          (rc, doc, err))
    lk = json.load(open(os.path.join(d, "state", "lock.json")))
    check("monitor: the env file and the pin are unchanged, nothing pulled",
          open(os.path.join(d, "env", "web.env")).read() == env_before and old in lock_before and
          new not in json.dumps([s.get("pin") for s in (lk["services"].values() if isinstance(lk["services"], dict)
                                                         else lk["services"])]) and
          "pull" not in err.lower(), err)
    r = rx.requests
    check("monitor: available sent (the default for upgrade = notify), priority 3",
          len(r) == 1 and r[0]["headers"].get("priority") == "3" and "available" in r[0]["headers"].get("tags", "")
          and new in r[0]["body"].decode(), [q["headers"] for q in r])
    rc, doc, err = run(cfg, "upgrade")
    check("monitor: the next run reports it again, notifies nothing more",
          rc == 0 and (doc or {}).get("services", [{}])[0].get("action") == "available" and len(rx.requests) == 1,
          (rc, doc, len(rx.requests)))
    rx.stop()


def case_refused():
    d = tempfile.mkdtemp(dir=work)
    cfg = harness.config(d, {"web": f"image = {P}/test/multi\nversion = 1.0"}, {P: "insecure = true"},
                         {"notify": f"ntfy+http://127.0.0.1:9/{TOPIC}"})
    rc, doc, err = run(cfg, "upgrade")
    check("plain http without insecure = true: a config error (exit 2) naming scheme://host only",
          rc == 2 and "ntfy+http://127.0.0.1:9 is plain HTTP" in err, (rc, err))


side_by_side(case_rollback, case_held, case_down, case_hang, case_monitor, case_refused)
leaks = [s for s in SECRETS if any(s in e for e in stderr_seen)]
check("no topic, path or password on stderr (the journal) in any run", not leaks, leaks)
harness.done()
