#!/usr/bin/python3
"""test-metrics.py BOARDPIN WORKDIR ROOTS: `metrics =` read back the way a fleet reads it. Debian's
prometheus-node-exporter is started here on a free loopback port with its textfile collector on the
metrics file's directory (other collectors off), and after a resolve, an upgrade with a rollback (and
one service upgraded), a held upgrade and a boot, its /metrics must agree with the lock and with the
run's --json; `promtool check metrics` (Debian's prometheus) must pass on the file, and no temp file may
be left beside it. Tags are moved with skopeo between the seeded images of registry.sh. If node_exporter
or promtool is missing or will not start, the case fails. Ends with 'N passed, N failed'."""
import json, os, re, socket, subprocess, tempfile, time, urllib.request

import harness
from harness import check

bp, work, roots, env = harness.args()
P = env["REG_PLAIN"]
ROOT = os.path.join(roots, "rpi-4-b-arm64")     # a real board; the platform is forced to the host's
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
PROMTOOL = "/usr/bin/promtool"

d = tempfile.mkdtemp(dir=work)
prom_dir = os.path.join(d, "node-exporter")
os.mkdir(prom_dir, 0o755)
os.chmod(prom_dir, 0o755)
prom = os.path.join(prom_dir, "boardpin.prom")


def tag(src, dest):
    """Point P/dest at the index of P/src (all platforms), as a publisher moving a tag does."""
    p = subprocess.run(["skopeo", "copy", "--all", "--src-tls-verify=false", "--dest-tls-verify=false",
                        f"docker://{P}/{src}", f"docker://{P}/{dest}"], capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise SystemExit(f"skopeo copy {src} {dest}: {p.stderr}")


def run(*cmd):
    return tuple(harness.run([bp, "-c", cfg, "--root", ROOT, "--machine", "x86_64", "--platform", "linux/amd64",
                              "--json", *cmd], timeout=180))


def lock():
    with open(os.path.join(d, "state", "lock.json")) as f:
        return json.load(f)["services"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{(name, frozenset of (label, value)): float} of every sample, and the TYPE of every family."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise ValueError(f"not a sample: {line!r}")
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples, types


def scrape():
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return parse(r.read().decode())[0]


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


def of(samples, name):
    return {k[1]: v for k, v in samples.items() if k[0] == name}


def epoch(rfc3339):
    return time.mktime(time.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone


def agrees(samples, what):
    """Every service of the lock, and only those, as the lock has it; the problems, or [] when it agrees."""
    bad = []
    services = lock()
    if set(dict(k)["service"] for k in of(samples, "boardpin_pin_info")) != set(services):
        bad.append(("services", of(samples, "boardpin_pin_info"), sorted(services)))
    for name, e in services.items():
        held = e.get("held")
        want = {
            ("boardpin_pin_info", (("service", name), ("platform", e["pin"]["platform"]),
                                   ("digest", e["pin"]["digest"]))): 1,
            ("boardpin_held", (("service", name),)): 1 if held else 0,
            ("boardpin_bad_digests", (("service", name),)): len(e.get("bad", [])),
            ("boardpin_pulled_images", (("service", name),)): len(e.get("pulled", [])),
            ("boardpin_last_upgrade_timestamp_seconds", (("service", name),)):
                epoch(e["upgraded_at"]) if "upgraded_at" in e else None,
            ("boardpin_last_check_passed", (("service", name),)):
                (1 if e["check"]["passed"] else 0) if "check" in e else None,
            ("boardpin_last_check_timestamp_seconds", (("service", name),)):
                epoch(e["check"]["at"]) if "check" in e else None,
        }
        for (metric, labels), v in want.items():
            got = value(samples, metric, **dict(labels))
            if got != v:
                bad.append((what, metric, name, got, v))
        codes = {dict(k)["code"]: v for k, v in of(samples, "boardpin_hold").items() if dict(k)["service"] == name}
        if codes != ({held.get("code", "unknown"): 1} if held else {}):
            bad.append((what, "boardpin_hold", name, codes, held))
    return bad


def run_agrees(samples, command, rc, doc, t0, t1):
    """The run's lines for command: its exit status, its requests as --json counted them, its time and a
    duration within what was measured from outside."""
    bad = []
    req = (doc or {}).get("requests") or {}
    for kind in ("head", "get", "blob", "tag_pages", "token"):
        if value(samples, "boardpin_run_requests", command=command, kind=kind) != req.get(kind):
            bad.append(("requests", kind, value(samples, "boardpin_run_requests", command=command, kind=kind), req))
    if value(samples, "boardpin_run_exit_status", command=command) != rc:
        bad.append(("exit", value(samples, "boardpin_run_exit_status", command=command), rc))
    ts = value(samples, "boardpin_run_timestamp_seconds", command=command)
    if ts is None or not int(t0) <= ts <= t1 + 1:
        bad.append(("time", ts, t0, t1))
    took = value(samples, "boardpin_run_duration_seconds", command=command)
    if took is None or not 0 <= took <= t1 - t0 + 0.01:
        bad.append(("duration", took, t1 - t0))
    return bad


def step(*cmd):
    t0 = time.time()
    rc, doc, err = run(*cmd)
    return rc, doc, err, t0, time.time()


# web: its new digest fails its check (rolled back, then held as bad); app: healthy, upgraded. web's check
# is a program that is not there: it fails at once, where a failing exit status is tried again for 60 s.
tag("test/multi:1.0", "test/metrics-web:1.0")
tag("test/multi:1.0", "test/metrics-app:1.0")
cfg = harness.config(d, {"web": f"image = {P}/test/metrics-web\nversion = 1.0\nhealth = exec:/nonexistent/health-check",
                         "app": f"image = {P}/test/metrics-app\nversion = 1.0\nhealth = exec:/bin/true"},
                     {P: "insecure = true"}, {"timeout": 5, "metrics": prom})

port = free_port()
exporter = None
try:
    exporter = subprocess.Popen([NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}",
                                 "--collector.disable-defaults", "--collector.textfile",
                                 f"--collector.textfile.directory={prom_dir}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
except OSError as e:
    check("node_exporter starts", False, e)
up = None
for _ in range(100):
    if not exporter or exporter.poll() is not None:
        break
    try:
        up = scrape()
        break
    except OSError:
        time.sleep(0.1)
if not check("node_exporter starts and serves /metrics", up is not None,
             exporter.stderr.read().decode() if exporter and exporter.poll() is not None else "no answer in 10 s"):
    harness.done()

try:
    # 1. resolve: the file appears, every service as the lock has it, and the run's own lines.
    rc, doc, err, t0, t1 = step("resolve")
    s = scrape()
    check("resolve: node_exporter read the file without error",
          rc == 0 and value(s, "node_textfile_scrape_error") == 0 and os.path.exists(prom), (rc, err))
    check("resolve: the metrics agree with the lock", not agrees(s, "resolve"), agrees(s, "resolve"))
    check("resolve: the run's time, duration, requests and exit status", not run_agrees(s, "resolve", rc, doc, t0, t1),
          run_agrees(s, "resolve", rc, doc, t0, t1))
    check("resolve: every boardpin family is a gauge, and a digest labels the info metric only",
          all(k == "gauge" for n, k in parse(open(prom).read())[1].items()) and
          all(("digest" in dict(k[1])) == (k[0] == "boardpin_pin_info") for k in s if k[0].startswith("boardpin_")),
          parse(open(prom).read())[1])

    # 2. Both tags move: web's new digest fails its check and is rolled back, app's is kept.
    web_old = lock()["web"]["pin"]["digest"]
    tag("test/multi:1.1", "test/metrics-web:1.0")
    tag("test/multi:1.1", "test/metrics-app:1.0")
    rc, doc, err, t0, t1 = step("upgrade")
    s = scrape()
    e = lock()
    check("upgrade: web rolled back, app upgraded, exit 1",
          rc == 1 and [x["action"] for x in doc["services"]] == ["rolled_back", "upgraded"], (rc, doc, err))
    check("upgrade: the metrics agree with the lock", not agrees(s, "upgrade"), agrees(s, "upgrade"))
    check("upgrade: the rollback shows as a failed check, a bad digest and the old pin",
          value(s, "boardpin_last_check_passed", service="web") == 0 and
          value(s, "boardpin_bad_digests", service="web") == 1 and
          value(s, "boardpin_pin_info", service="web", platform="linux/amd64", digest=web_old) == 1 and
          value(s, "boardpin_last_upgrade_timestamp_seconds", service="web") is None, of(s, "boardpin_pin_info"))
    check("upgrade: app's upgrade shows its time and a passed check",
          value(s, "boardpin_last_check_passed", service="app") == 1 and
          t0 - 1 <= (value(s, "boardpin_last_upgrade_timestamp_seconds", service="app") or 0) <= t1 + 1, e["app"])
    check("upgrade: the run's lines, exit status 1; resolve's last run kept",
          not run_agrees(s, "upgrade", rc, doc, t0, t1) and
          value(s, "boardpin_run_exit_status", command="resolve") == 0, run_agrees(s, "upgrade", rc, doc, t0, t1))

    # 3. Again: web's new digest is on the bad list, so it is held with code bad; exit 0.
    rc, doc, err, t0, t1 = step("upgrade")
    s = scrape()
    check("held upgrade: web held, exit 0", rc == 0 and doc["services"][0]["action"] == "held" and
          doc["services"][0]["hold"] == "bad", (rc, doc, err))
    check("held upgrade: boardpin_held and boardpin_hold{code=\"bad\"}",
          value(s, "boardpin_held", service="web") == 1 and value(s, "boardpin_hold", service="web", code="bad") == 1
          and value(s, "boardpin_held", service="app") == 0 and
          not any(dict(k)["service"] == "app" for k in of(s, "boardpin_hold")), of(s, "boardpin_hold"))
    check("held upgrade: the metrics agree with the lock", not agrees(s, "held"), agrees(s, "held"))
    check("held upgrade: the run's lines replace the last upgrade's", not run_agrees(s, "upgrade", rc, doc, t0, t1),
          run_agrees(s, "upgrade", rc, doc, t0, t1))

    # 4. boot from the lock: no request, exit 0; the upgrade's last run stays as it was.
    up_time = value(s, "boardpin_run_timestamp_seconds", command="upgrade")
    rc, doc, err, t0, t1 = step("boot")
    s = scrape()
    check("boot: the metrics agree with the lock", rc == 0 and not agrees(s, "boot"), (rc, err, agrees(s, "boot")))
    check("boot: its run's lines (no requests), the upgrade's and resolve's kept",
          not run_agrees(s, "boot", rc, doc, t0, t1) and
          value(s, "boardpin_run_requests", command="boot", kind="head") == 0 and
          value(s, "boardpin_run_timestamp_seconds", command="upgrade") == up_time and
          value(s, "boardpin_run_exit_status", command="upgrade") == 0 and
          value(s, "boardpin_run_exit_status", command="resolve") == 0, run_agrees(s, "boot", rc, doc, t0, t1))
    check("boot: the file starts with boardpin's header, no temp file beside it",
          open(prom).read().startswith("# generated by boardpin from ") and os.listdir(prom_dir) == ["boardpin.prom"],
          os.listdir(prom_dir))
    check("boot: node_exporter still reads it without error", value(s, "node_textfile_scrape_error") == 0,
          of(s, "node_textfile_scrape_error"))

    # 5. Prometheus' own linter on the file as written.
    try:
        with open(prom, "rb") as f:
            p = subprocess.run([PROMTOOL, "check", "metrics"], stdin=f, capture_output=True, timeout=60)
        check("promtool check metrics passes on the file", p.returncode == 0 and not p.stdout.strip() and
              not p.stderr.strip(), (p.returncode, p.stdout, p.stderr))
    except OSError as e:
        check("promtool check metrics passes on the file", False, e)

    # 6. A dry run and status write nothing; a metrics path that is not NAME.prom is refused at load.
    before = open(prom, "rb").read()
    rc, doc, err = run("upgrade", "--dry-run")
    rc2, doc2, err2 = run("status")
    check("upgrade --dry-run and status leave the file alone", open(prom, "rb").read() == before, (rc, rc2))
    bad_cfg = harness.config(d, {"web": f"image = {P}/test/metrics-web\nversion = 1.0"}, {P: "insecure = true"},
                             {"metrics": os.path.join(prom_dir, "boardpin.txt")}, name="bad.ini")
    rc, doc, err = harness.run([bp, "-c", bad_cfg, "status"])
    check("metrics = NAME.txt: refused with file:line, exit 2",
          rc == 2 and re.search(r"bad\.ini:\d+: metrics: .* does not end in NAME\.prom", err), (rc, err))
    rc2, doc2, err2 = run("status")
    kept = ((doc2 or {}).get("services") or [{}])[0].get("kept_images")
    check("status --json: kept_images, the lock's pulled list", rc2 in (0, 1) and
          kept == lock()["web"].get("pulled", []), (rc2, doc2, err2))
finally:
    if exporter and exporter.poll() is None:
        exporter.terminate()
        exporter.wait(10)
harness.done()
