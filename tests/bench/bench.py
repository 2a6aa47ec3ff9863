#!/usr/bin/python3
"""bench.py BOARDPIN ROOTS BUILD: figures for `make bench`, measured side by side in one run; no pass or
fail. Starts the registries of tests/integration, pushes 20 multi-arch images, puts a latency proxy
(tests/bench/latency-proxy.py) in front of the Basic-auth registry, the token registry and its token
server, and prints, at 0 ms and at 40 ms of round trip, for 20 services over TLS:
  boardpin resolve, cold and unchanged (Basic auth): wall, CPU, peak RSS, requests, TCP connections (each
  with its TLS handshake, counted by the proxy);
  the same cold resolve with `verify =` a key made for the run (openssl, ECDSA P-256), every index signed
  by it as cosign signs (tests/integration/sigseed.py builds the artifacts): the even images in the
  classic form (the tag sha256-HEX.sig), the odd ones as a Sigstore bundle at the referrers tag; its runs
  alternate with cold's, for their ratio; the requests of an unchanged run with verify on beside those
  without; and the CPU the registry spends serving a cold run with verify on and off;
  curl --parallel of the same 60 objects (index, child, config), of the objects (404s too) the cold run
  with verify on asked for, taken from the registry's access log, and of the 20 HEADs, as a user runs it:
  multiplexed over HTTP/2 where the registry offers it (not --parallel-immediate, which opens one
  connection, with its own TLS handshake, per object);
  a skopeo inspect loop doing the same work;
  the 5-round-trip floor: TCP + TLS 1.3 + index -> child -> config, computed as 5 x RTT plus the 0 ms
  curl --parallel time of the same objects;
  boardpin resolve, cold, against the token registry: token requests per run and their cost in round
  trips beside the Basic-auth run;
then peak RSS beside a minimal libcurl program doing one HTTPS GET; boot with a lock that answers and no
network, beside a no-op C program (libc only) and the same no-op linked against boardpin's five libraries;
range selection over 1,000 and 10,000 tags (tests/bench/range.c).
The binary is measured as given: any boardpin with this command line works."""
import base64, json, os, re, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

bp, roots, build = (os.path.abspath(a) for a in sys.argv[1:4])
here = os.path.dirname(os.path.abspath(__file__))
top = os.path.abspath(os.path.join(here, "..", ".."))
sys.path.insert(0, os.path.join(top, "tests", "integration"))
sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
import sigseed  # noqa: E402  (the signature artifacts the integration tests push, built the same way)
N, RUNS, RTTS = 20, 7, (0, 40)
work = tempfile.mkdtemp(prefix="boardpin-bench.")
children = []


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def measure(cmd, env=None):
    """Wall seconds of one run of cmd, its stdout, exit code and stderr."""
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, env=env)
    wall = time.perf_counter() - t
    return wall, p.stdout.decode(errors="replace"), p.returncode, p.stderr.decode(errors="replace")


def measure_rss(cmd, env=None, before=None):
    """Peak RSS in KiB and CPU (user + system) in ms of one run, from wait4() in a small static launcher
    (tests/bench/rss.c): Linux keeps a process's high-water mark across exec(), so a child of this Python
    would start at its size."""
    if before:
        before()
    p = subprocess.run([f"{build}/bench-rss", *cmd], capture_output=True, text=True, env=env)
    rss, cpu = (p.stdout.split() + ["0", "0"])[:2]
    return int(rss), int(cpu)


def median_walls(cmds, runs=RUNS, env=None):
    """[(median wall, last stdout)] of each (cmd, before) in cmds, their runs taken in turn, so that a
    change in the machine's load falls on all of them alike and their ratio holds."""
    walls, outs = [[] for _ in cmds], [None] * len(cmds)
    for _ in range(runs):
        for k, (cmd, before) in enumerate(cmds):
            if before:
                before()
            wall, outs[k], rc, err = measure(cmd, env)
            if rc not in (0,):
                raise SystemExit(f"bench: {' '.join(cmd[:4])}… failed: {err.strip()[:300]}")
            walls[k].append(wall)
    return [(statistics.median(w), out) for w, out in zip(walls, outs)]


def median_wall(cmd, runs=RUNS, before=None, env=None):
    return median_walls([(cmd, before)], runs, env)[0]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, what, proc):
    for _ in range(200):
        if proc.poll() is not None:
            raise SystemExit(f"bench: {what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"bench: {what} does not listen on {port}")


class LatencyProxy:
    """tests/bench/latency-proxy.py in front of upstream (HOST:PORT), on listen (a free port if None)."""

    def __init__(self, upstream, listen=None):
        self.port, self.control = listen or free_port(), free_port()
        self.proc = subprocess.Popen([sys.executable, f"{here}/latency-proxy.py", "--listen", str(self.port),
                                      "--upstream", upstream, "--control", str(self.control)],
                                     stdout=subprocess.DEVNULL)
        children.append(self.proc)
        wait_port(self.control, "latency proxy", self.proc)
        wait_port(self.port, "latency proxy", self.proc)
        self.addr = f"127.0.0.1:{self.port}"

    def ask(self, line):
        with socket.create_connection(("127.0.0.1", self.control), timeout=5) as s:
            s.sendall((line + "\n").encode())
            return s.makefile().readline().strip()

    def rtt(self, ms):
        self.ask(f"rtt {ms}")

    def reset(self):
        self.ask("reset")

    def count(self):
        return int(self.ask("count"))


def move_token_server(env):
    """The token realm is fixed in registry-token's configuration: move the token server to a new port and
    put a latency proxy on the realm's own port, so token requests cross the same link as the registry."""
    old = int(env["TOKEN_SERVER"].rsplit(":", 1)[1])
    pid = int(open(os.path.join(work, "tokenserver.pidfile")).read().split()[0])
    argv = open(f"/proc/{pid}/cmdline", "rb").read().decode().split("\0")[:-1]
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", old), timeout=1).close()
            time.sleep(0.05)
        except OSError:
            break
    new = free_port()
    argv[argv.index("--port") + 1] = str(new)
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children.append(proc)
    wait_port(new, "token server", proc)
    return LatencyProxy(f"127.0.0.1:{new}", listen=old)


def write_ini(path, reg, repo_prefix, auth_file, ca, state, verify=None):
    with open(path, "w") as f:
        f.write(f"[boardpin]\nstate_dir = {state}\nenv_dir = {state}-env\nauth_file = {auth_file}\n"
                f"platform = linux/arm/v7\n" + (f"verify = {verify}\n" if verify else "") +
                f"\n[registry {reg}]\nca_file = {ca}\n")
        for i in range(N):
            f.write(f"\n[service img{i:02d}]\nimage = {reg}/{repo_prefix}{i:02d}\nversion = 1.0\n")


try:
    sh(os.environ.get("CC", "cc"), "-O2", "-static", "-o", f"{build}/bench-rss", f"{here}/rss.c")
    sh(os.path.join(top, "tests/integration/registry.sh"), "start", work)
    sh(os.path.join(top, "tests/integration/seed.sh"), work)
    env = {}
    for line in open(os.path.join(work, "env")):
        if "=" in line and not line.startswith("#"):
            k, v = line.strip().split("=", 1)
            env[k] = v.strip("'\"")
    reg, treg, ca = env["REG_BASIC"], env["REG_TOKEN"], env["CA_FILE"]
    creds = f"{env['REG_USER']}:{env['REG_PASSWORD']}"
    cenv = dict(os.environ, CONTAINERS_REGISTRIES_CONF=env["CONTAINERS_REGISTRIES_CONF"])
    for r in (reg, treg):
        for i in range(N):
            sh("skopeo", "copy", "--all", "--src-cert-dir", env["CERT_DIR"], "--dest-cert-dir", env["CERT_DIR"],
               "--src-creds", creds, "--dest-creds", creds, f"docker://{reg}/test/multi:1.0",
               f"docker://{r}/bench/img{i:02d}:1.0", env=cenv)
    exp = json.load(open(os.path.join(work, "expected.json")))["images"]["basic"]["test/multi:1.0"]
    child = exp["platforms"]["linux/arm/v7"]
    config_digest = exp["configs"][child]["digest"]

    # Every request of a measured run crosses a proxy; at 0 ms it adds only its own forwarding.
    preg, ptreg = LatencyProxy(reg), LatencyProxy(treg)
    ptoken = move_token_server(env)
    proxies = (preg, ptreg, ptoken)
    auth = os.path.join(work, "bench-auth.json")
    b64 = base64.b64encode(creds.encode()).decode()
    with open(auth, "w") as f:
        json.dump({"auths": {p.addr: {"auth": b64} for p in (preg, ptreg)}}, f)
    ini, tini = os.path.join(work, "bench.ini"), os.path.join(work, "bench-token.ini")
    vini = os.path.join(work, "bench-verify.ini")
    write_ini(ini, preg.addr, "bench/img", auth, ca, f"{work}/state")
    write_ini(tini, ptreg.addr, "bench/img", auth, ca, f"{work}/tstate")
    resolve = [bp, "-q", "-c", ini, "--json", "resolve"]
    tresolve = [bp, "-q", "-c", tini, "--json", "resolve"]
    vresolve = [bp, "-q", "-c", vini, "--json", "resolve"]
    cold_state = lambda: shutil.rmtree(f"{work}/state", ignore_errors=True)
    tcold_state = lambda: shutil.rmtree(f"{work}/tstate", ignore_errors=True)
    vcold_state = lambda: shutil.rmtree(f"{work}/vstate", ignore_errors=True)

    # Signatures name the image as boardpin sees it, through the proxy; they are pushed to the registry
    # itself, whose copies of test/multi:1.0 share one index digest.
    key, pub = os.path.join(work, "sign.key"), os.path.join(work, "sign.pub")
    sh("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key)
    sh("openssl", "pkey", "-in", key, "-pubout", "-out", pub)
    os.chmod(pub, 0o644)
    sreg = sigseed.Registry(work, None, None, base=f"https://{reg}", cafile=ca, creds=creds)
    index, index_size = exp["digest"], exp["size"]
    for i in range(N):
        repo = f"bench/img{i:02d}"
        if i % 2 == 0:
            sreg.push_signatures(repo, index, *sigseed.classic_signature(key, f"{preg.addr}/{repo}", index))
        else:
            sreg.push_referrers(repo, index, *sigseed.bundle_signature(key, pub, f"{preg.addr}/{repo}", index,
                                                                       index_size))
    write_ini(vini, preg.addr, "bench/img", auth, ca, f"{work}/vstate", verify=pub)

    def verified_forms():
        """{format: pins} of the verify-on lock: every pin must say a signature verified it, or the
        figures would be those of a run that checked nothing."""
        forms = {}

        def walk(o):
            if isinstance(o, dict):
                if "digest" in o and "platform" in o:
                    form = (o.get("verified") or {}).get("format", "none")
                    forms[form] = forms.get(form, 0) + 1
                    return
                for x in o.values():
                    walk(x)
            elif isinstance(o, list):
                for x in o:
                    walk(x)
        walk(json.load(open(f"{work}/vstate/lock.json"))["services"])
        if sum(forms.values()) != N or "none" in forms:
            raise SystemExit(f"bench: verify on, the lock's pins are not all verified: {forms}")
        return forms

    accept = ("application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, "
              "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
    base = ["curl", "-s", "--parallel", "--parallel-max", "64", "--cacert", ca, "-u", creds, "-H", f"Accept: {accept}"]
    urls = []
    for i in range(N):
        urls += [f"https://{preg.addr}/v2/bench/img{i:02d}/manifests/1.0",
                 f"https://{preg.addr}/v2/bench/img{i:02d}/manifests/{child}",
                 f"https://{preg.addr}/v2/bench/img{i:02d}/blobs/{config_digest}"]
    same_cmd = base + sum((["-o", "/dev/null", u] for u in urls), [])
    heads_cmd = base + sum((["-I", "-o", "/dev/null", f"https://{preg.addr}/v2/bench/img{i:02d}/manifests/1.0"]
                            for i in range(N)), [])
    http_version = sh("curl", "-s", "-o", "/dev/null", "-w", "%{http_version}", "--cacert", ca, "-u", creds,
                      f"https://{reg}/v2/").stdout

    def skopeo_loop(r):
        for i in range(N):
            sh("skopeo", "inspect", "--config", "--raw", "--cert-dir", env["CERT_DIR"], "--creds", creds,
               "--override-os", "linux", "--override-arch", "arm", "--override-variant", "v7",
               f"docker://{r}/bench/img{i:02d}:1.0", env=cenv)

    def connections(cmd, before=None):
        """TCP connections (TLS handshakes) of one run of cmd, counted at the proxies."""
        if before:
            before()
        for p in proxies:
            p.reset()
        measure(cmd)
        return sum(p.count() for p in proxies)

    reg_pid = int(open(os.path.join(work, "pids", "registry-basic.pid")).read())
    tick = os.sysconf("SC_CLK_TCK")

    def registry_cpu(cmd, before, runs=3):
        """Median CPU (user + system, ms) the Basic-auth registry spent serving one run of cmd."""
        def used():
            fields = open(f"/proc/{reg_pid}/stat").read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) * 1000 / tick
        spent = []
        for _ in range(runs):
            before()
            t = used()
            measure(cmd)
            spent.append(used() - t)
        return statistics.median(spent)

    def served_paths(cmd, before):
        """The paths of every GET the Basic-auth registry logged during one run of cmd (its access log)."""
        log = os.path.join(work, "registry-basic.log")
        before()
        mark = os.path.getsize(log)
        measure(cmd)
        time.sleep(0.5)  # the log line is written as the handler returns, after the answer went out
        with open(log, errors="replace") as f:
            f.seek(mark)
            return re.findall(r'"GET (/v2/[^ "]+) HTTP/[0-9.]+" [0-9]{3} ', f.read())

    def token_requests(cmd, before):
        """Token requests of one run of cmd, from the token server's log."""
        before()
        log = env["TOKEN_LOG"]
        n0 = sum(1 for _ in open(log))
        measure(cmd)
        return sum(1 for _ in open(log)) - n0

    fig = {}
    for rtt in RTTS:
        for p in proxies:
            p.rtt(rtt)
        f = fig[rtt] = {}
        (f["cold"], out), (f["vcold"], vout) = median_walls([(resolve, cold_state), (vresolve, vcold_state)])
        f["cold_req"] = json.loads(out)["requests"]
        f["cold_rss"], f["cold_cpu"] = measure_rss(resolve, before=cold_state)
        f["cold_conn"] = connections(resolve, before=cold_state)
        f["vcold_req"] = json.loads(vout)["requests"]
        f["vforms"] = verified_forms()
        f["vcold_rss"], f["vcold_cpu"] = measure_rss(vresolve, before=vcold_state)
        f["vcold_conn"] = connections(vresolve, before=vcold_state)
        f["cold_regcpu"] = registry_cpu(resolve, cold_state)
        f["vcold_regcpu"] = registry_cpu(vresolve, vcold_state)
        _, out, rc, err = measure(vresolve)
        if rc != 0:
            raise SystemExit(f"bench: unchanged resolve, verify on, failed: {err.strip()[:300]}")
        f["vwarm_req"] = json.loads(out)["requests"]
        f["warm"], out = median_wall(resolve)
        f["warm_req"] = json.loads(out)["requests"]
        f["warm_rss"], f["warm_cpu"] = measure_rss(resolve)
        f["warm_conn"] = connections(resolve)
        f["same"], _ = median_wall(same_cmd)
        if rtt == 0:
            # The objects a cold run with verify on asks for (404s too), all at once: the registry's work
            # for them, without the chain of round trips that finds them.
            vpaths = served_paths(vresolve, vcold_state)
            vsame_cmd = base + sum((["-o", "/dev/null", f"https://{preg.addr}{p}"] for p in vpaths), [])
        f["vsame"], _ = median_wall(vsame_cmd)
        f["vsame_n"] = len(vpaths)
        f["same_conn"] = connections(same_cmd)
        f["heads"], _ = median_wall(heads_cmd)
        f["heads_conn"] = connections(heads_cmd)
        f["tcold"], out = median_wall(tresolve, before=tcold_state)
        f["tcold_req"] = json.loads(out)["requests"]
        f["tcold_conn"] = connections(tresolve, before=tcold_state)
        f["tokens"] = token_requests(tresolve, tcold_state)
        tcold_state()
        ptoken.reset()
        measure(tresolve)
        f["token_conn"] = ptoken.count()
        runs = 3 if rtt == 0 else 1
        walls = []
        for _ in range(runs):
            t = time.perf_counter()
            skopeo_loop(preg.addr)
            walls.append(time.perf_counter() - t)
        f["skopeo"], f["skopeo_runs"] = statistics.median(walls), runs
    floor0 = fig[0]["same"]
    for rtt in RTTS:
        fig[rtt]["floor"] = 5 * rtt / 1000 + floor0
    for p in proxies:
        p.rtt(0)
    skopeo_rss, _ = measure_rss(["skopeo", "inspect", "--config", "--raw", "--cert-dir", env["CERT_DIR"], "--creds",
                                 creds, "--override-os", "linux", "--override-arch", "arm", "--override-variant",
                                 "v7", f"docker://{reg}/bench/img00:1.0"], cenv)

    cc = os.environ.get("CC", "cc")
    libs = sh("pkg-config", "--libs", "inih", "json-c", "libcurl", "libsystemd", "libcrypto").stdout.split()
    sh(cc, "-O2", "-o", f"{build}/bench-noop-libc", f"{here}/noop.c")
    sh(cc, "-O2", "-o", f"{build}/bench-noop-5libs", f"{here}/noop.c", "-Wl,--no-as-needed", *libs)
    sh(cc, "-O2", "-o", f"{build}/bench-onefetch", f"{here}/onefetch.c", *sh("pkg-config", "--cflags", "--libs", "libcurl").stdout.split())
    onefetch_rss, onefetch_cpu = measure_rss([f"{build}/bench-onefetch", f"https://{reg}/v2/bench/img00/manifests/1.0",
                                              ca, creds])

    # boot: the lock answers; no network at all (a network namespace of its own)
    board = [bp, "-q", "-c", ini, "--root", f"{roots}/rpi-3-b-raspbian32", "--machine", "armv7l"]
    sh(*board, "resolve")
    boot_cmd = ["unshare", "--net", *board, "boot"]
    hf = os.path.join(work, "hf.json")
    sh("hyperfine", "-N", "-w", "5", "-r", "200", "--export-json", hf, f"{build}/bench-noop-libc",
       f"{build}/bench-noop-5libs", " ".join(board + ["boot"]))
    means = [r["mean"] for r in json.load(open(hf))["results"]]
    boot_rss, _ = measure_rss(board + ["boot"])
    rss_floor, _ = measure_rss(["/bin/true"])
    noop_rss, _ = measure_rss([f"{build}/bench-noop-libc"])
    noop5_rss, _ = measure_rss([f"{build}/bench-noop-5libs"])
    p = subprocess.run(boot_cmd, capture_output=True, text=True)
    boot_offline_ok = p.returncode == 0

    sh(cc, "-std=c11", "-D_GNU_SOURCE", "-O2", "-I", f"{top}/platform", "-I", f"{top}/agent",
       f"{here}/range.c", f"{top}/agent/version.c", f"{top}/agent/ref.c", f"{build}/libplatform.a",
       "-o", f"{build}/bench-range")
    rng = sh(f"{build}/bench-range").stdout

    with open(f"{build}/bench-figures.json", "w") as out_json:
        json.dump(fig, out_json, indent=1)

    def req(r):
        """'61 (40 get, 20 blob, 1 token)' from boardpin's requests object; a number stays a number."""
        if not isinstance(r, dict):
            return str(r)
        parts = [f"{v} {k}" for k, v in r.items() if v]
        return f"{sum(r.values())} ({', '.join(parts)})"

    ms = lambda s: f"{s * 1000:8.1f} ms"
    print(f"\n== registry: {N} services (index, child, config) over TLS, Debian's docker-registry on loopback "
          f"(curl sees HTTP/{http_version}), through a latency proxy; median of {RUNS} unless said")
    for rtt in RTTS:
        f = fig[rtt]
        print(f"\n-- round trip {rtt} ms")
        print(f"{'':40} {'wall':>11} {'CPU':>8} {'peak RSS':>11} {'TCP+TLS':>7}  requests")
        print(f"{'boardpin resolve, cold':40} {ms(f['cold'])} {f['cold_cpu']:5d} ms {f['cold_rss']:7d} KiB "
              f"{f['cold_conn']:7}  {req(f['cold_req'])}")
        print(f"{'boardpin resolve, cold, verify on':40} {ms(f['vcold'])} {f['vcold_cpu']:5d} ms "
              f"{f['vcold_rss']:7d} KiB {f['vcold_conn']:7}  {req(f['vcold_req'])}")
        print(f"{'boardpin resolve, unchanged':40} {ms(f['warm'])} {f['warm_cpu']:5d} ms {f['warm_rss']:7d} KiB "
              f"{f['warm_conn']:7}  {req(f['warm_req'])}")
        print(f"{'curl --parallel, same 60 objects':40} {ms(f['same'])} {'':8} {'':11} {f['same_conn']:7}  60")
        print(f"{'curl --parallel, verify on objects':40} {ms(f['vsame'])} {'':8} {'':11} {'':7}  "
              f"{f['vsame_n']} (ratio to the 60: {f['vsame'] / f['same']:.2f}x)")
        print(f"{'curl --parallel, 20 HEADs':40} {ms(f['heads'])} {'':8} {'':11} {f['heads_conn']:7}  20")
        print(f"{'floor: 5 x RTT + curl same objects @0':40} {ms(f['floor'])}")
        print(f"{'skopeo inspect loop, same work':40} {ms(f['skopeo'])}  ({f['skopeo_runs']} run(s))")
        print(f"{'boardpin resolve, cold, token auth':40} {ms(f['tcold'])} {'':8} {'':11} {f['tcold_conn']:7}  "
              f"{req(f['tcold_req'])}; token server saw {f['tokens']}")
        forms = ", ".join(f"{n} {k}" for k, n in sorted(f["vforms"].items()))
        print(f"cold verify on / cold: {f['vcold'] / f['cold']:.2f}x (target 1.3x at 40 ms); pins verified: "
              f"{forms}; unchanged, verify on: {req(f['vwarm_req'])} beside {req(f['warm_req'])} without "
              f"({'same' if f['vwarm_req'] == f['warm_req'] else 'DIFFERENT'})")
        print(f"registry CPU per run (user + system, {os.cpu_count()} CPUs here): cold {f['cold_regcpu']:.0f} ms, "
              f"cold verify on {f['vcold_regcpu']:.0f} ms ({f['vcold_regcpu'] / f['cold_regcpu']:.2f}x)")
        print(f"ratios: cold/curl-same {f['cold'] / f['same']:.2f}x (target 1.2x); cold/floor "
              f"{f['cold'] / f['floor']:.2f}x (target 1.6x at 40 ms); unchanged/curl-HEADs "
              f"{f['warm'] / f['heads']:.2f}x (target 1.2x); skopeo/cold {f['skopeo'] / f['cold']:.1f}x")
        if rtt:
            # What the link adds, in round trips: the 0 ms wall holds the servers' CPU (bcrypt for every
            # Basic request, none for a token), which would otherwise blur the comparison.
            trips = lambda k: (f[k] - fig[0][k]) / (rtt / 1000)
            print(f"round trips paid (wall at {rtt} ms - wall at 0 ms) / RTT: cold {trips('cold'):.1f}, "
                  f"cold verify on {trips('vcold'):.1f}, unchanged {trips('warm'):.1f}, token cold "
                  f"{trips('tcold'):.1f}, curl same objects {trips('same'):.1f}, curl HEADs {trips('heads'):.1f}")
            print(f"token auth: {f['tokens']} token request(s) per cold run (target at most 1) over "
                  f"{f['token_conn']} connection(s) to the token server, i.e. {3 * f['token_conn']} round trips "
                  f"(TCP, TLS 1.3, GET) plus the challenge; the token run paid "
                  f"{trips('tcold') - trips('cold'):+.1f} round trips beside the Basic-auth run")
    print(f"\n{'libcurl one HTTPS GET':40} {'':11} {onefetch_cpu:5d} ms {onefetch_rss:7d} KiB")
    print(f"RSS cold/onefetch {fig[0]['cold_rss'] / onefetch_rss:.2f}x (target 1.3x)")
    print(f"\n== boot with a lock that answers, no network (hyperfine, 200 runs)")
    print(f"{'no-op, libc only':34} {ms(means[0])} {noop_rss:7d} KiB")
    print(f"{'no-op, five libraries':34} {ms(means[1])} {noop5_rss:7d} KiB")
    print(f"{'boardpin boot, 20 services':34} {ms(means[2])} {boot_rss:7d} KiB  offline run ok: {boot_offline_ok}")
    print(f"ratios: boot/no-op-libc {means[2] / means[0]:.1f}x (target 3x); five-lib no-op/libc {means[1] / means[0]:.1f}x; "
          f"RSS floor of the launcher: /bin/true {rss_floor} KiB")
    print("\n== version range selection (tests/bench/range.c)")
    print(rng.rstrip())
finally:
    for c in children:
        c.terminate()
    for c in children:
        try:
            c.wait(timeout=10)
        except subprocess.TimeoutExpired:
            c.kill()
    subprocess.run([os.path.join(top, "tests/integration/registry.sh"), "stop", work], capture_output=True)
    shutil.rmtree(work, ignore_errors=True)
