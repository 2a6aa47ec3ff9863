#!/usr/bin/python3
"""bench.py BOARDPIN ROOTS BUILD: figures for `make bench`, measured side by side in one run; no pass or
fail. Starts the registries of tests/integration (TLS + Basic auth is the one measured), pushes 20
multi-arch images, and prints:
  resolve of 20 images, cold and unchanged, beside a skopeo inspect loop doing the same work (index,
  child, config), one curl --parallel fetching the same 60 objects (the floor), and one curl --parallel
  of the 20 HEADs (the floor when nothing changed): wall time, peak RSS, requests, ratios;
  peak RSS beside a minimal libcurl program doing one HTTPS GET;
  boot with a lock that answers and no network, beside a no-op C program (libc only) and the same no-op
  linked against boardpin's five libraries;
  range selection over 1,000 and 10,000 tags (tests/bench/range.c)."""
import json, os, shutil, statistics, subprocess, sys, tempfile, time

bp, roots, build = (os.path.abspath(a) for a in sys.argv[1:4])
here = os.path.dirname(os.path.abspath(__file__))
top = os.path.abspath(os.path.join(here, "..", ".."))
N, RUNS = 20, 7
work = tempfile.mkdtemp(prefix="boardpin-bench.")


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def measure(cmd, env=None):
    """Wall seconds of one run of cmd, its stdout, exit code and stderr."""
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, env=env)
    wall = time.perf_counter() - t
    return wall, p.stdout.decode(errors="replace"), p.returncode, p.stderr.decode(errors="replace")


def measure_rss(cmd, env=None):
    """Peak RSS in KiB of one run, from wait4() in a small static launcher (tests/bench/rss.c): Linux
    keeps a process's high-water mark across exec(), so a child of this Python would start at its size."""
    p = subprocess.run([f"{build}/bench-rss", *cmd], capture_output=True, text=True, env=env)
    return int(p.stdout.strip() or 0)


def median_wall(cmd, runs=RUNS, before=None, env=None):
    walls = []
    out = None
    for _ in range(runs):
        if before:
            before()
        wall, out, rc, err = measure(cmd, env)
        if rc not in (0,):
            raise SystemExit(f"bench: {' '.join(cmd[:4])}… failed: {err.strip()[:300]}")
        walls.append(wall)
    return statistics.median(walls), out


try:
    sh(os.environ.get("CC", "cc"), "-O2", "-static", "-o", f"{build}/bench-rss", f"{here}/rss.c")
    sh(os.path.join(top, "tests/integration/registry.sh"), "start", work)
    sh(os.path.join(top, "tests/integration/seed.sh"), work)
    env = {}
    for line in open(os.path.join(work, "env")):
        if "=" in line and not line.startswith("#"):
            k, v = line.strip().split("=", 1)
            env[k] = v.strip("'\"")
    reg, ca, creds = env["REG_BASIC"], env["CA_FILE"], f"{env['REG_USER']}:{env['REG_PASSWORD']}"
    cenv = dict(os.environ, CONTAINERS_REGISTRIES_CONF=env["CONTAINERS_REGISTRIES_CONF"])
    for i in range(N):
        sh("skopeo", "copy", "--all", "--src-cert-dir", env["CERT_DIR"], "--dest-cert-dir", env["CERT_DIR"],
           "--src-creds", creds, "--dest-creds", creds, f"docker://{reg}/test/multi:1.0",
           f"docker://{reg}/bench/img{i:02d}:1.0", env=cenv)
    exp = json.load(open(os.path.join(work, "expected.json")))["images"]["basic"]["test/multi:1.0"]
    child = exp["platforms"]["linux/arm/v7"]
    config_digest = exp["configs"][child]["digest"]

    ini = os.path.join(work, "bench.ini")
    with open(ini, "w") as f:
        f.write(f"[boardpin]\nstate_dir = {work}/state\nenv_dir = {work}/env-files\nauth_file = {env['AUTH_FILE']}\n"
                f"platform = linux/arm/v7\n\n[registry {reg}]\nca_file = {ca}\n")
        for i in range(N):
            f.write(f"\n[service img{i:02d}]\nimage = {reg}/bench/img{i:02d}\nversion = 1.0\n")
    resolve = [bp, "-q", "-c", ini, "--json", "resolve"]
    cold, out = median_wall(resolve, before=lambda: shutil.rmtree(f"{work}/state", ignore_errors=True))
    cold_req = json.loads(out)["requests"]
    cold_rss = measure_rss(resolve)
    warm, out = median_wall(resolve)
    warm_req = json.loads(out)["requests"]
    warm_rss = measure_rss(resolve)

    def skopeo_loop():
        for i in range(N):
            sh("skopeo", "inspect", "--config", "--raw", "--cert-dir", env["CERT_DIR"], "--creds", creds,
               "--override-os", "linux", "--override-arch", "arm", "--override-variant", "v7",
               f"docker://{reg}/bench/img{i:02d}:1.0", env=cenv)
    walls = []
    for _ in range(3):
        t = time.perf_counter()
        skopeo_loop()
        walls.append(time.perf_counter() - t)
    skopeo = statistics.median(walls)
    skopeo_rss = measure_rss(["skopeo", "inspect", "--config", "--raw", "--cert-dir", env["CERT_DIR"], "--creds",
                              creds, "--override-os", "linux", "--override-arch", "arm", "--override-variant", "v7",
                              f"docker://{reg}/bench/img00:1.0"], cenv)

    accept = ("application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, "
              "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
    base = ["curl", "-s", "-o", "/dev/null", "--parallel", "--parallel-immediate", "--parallel-max", "64",
            "--cacert", ca, "-u", creds, "-H", f"Accept: {accept}"]
    urls = []
    for i in range(N):
        urls += [f"https://{reg}/v2/bench/img{i:02d}/manifests/1.0", f"https://{reg}/v2/bench/img{i:02d}/manifests/{child}",
                 f"https://{reg}/v2/bench/img{i:02d}/blobs/{config_digest}"]
    same_cmd = base + sum((["-o", "/dev/null", u] for u in urls), [])
    same, _ = median_wall(same_cmd)
    heads_cmd = base + sum((["-I", "-o", "/dev/null", f"https://{reg}/v2/bench/img{i:02d}/manifests/1.0"] for i in range(N)), [])
    heads, _ = median_wall(heads_cmd)

    cc = os.environ.get("CC", "cc")
    libs = sh("pkg-config", "--libs", "inih", "json-c", "libcurl", "libsystemd", "libcrypto").stdout.split()
    sh(cc, "-O2", "-o", f"{build}/bench-noop-libc", f"{here}/noop.c")
    sh(cc, "-O2", "-o", f"{build}/bench-noop-5libs", f"{here}/noop.c", "-Wl,--no-as-needed", *libs)
    sh(cc, "-O2", "-o", f"{build}/bench-onefetch", f"{here}/onefetch.c", *sh("pkg-config", "--cflags", "--libs", "libcurl").stdout.split())
    onefetch_rss = measure_rss([f"{build}/bench-onefetch", f"https://{reg}/v2/bench/img00/manifests/1.0", ca, creds])

    # boot: the lock answers; no network at all (a network namespace of its own)
    board = [bp, "-q", "-c", ini, "--root", f"{roots}/rpi-3-b-raspbian32", "--machine", "armv7l"]
    sh(*board, "resolve")
    boot_cmd = ["unshare", "--net", *board, "boot"]
    hf = os.path.join(work, "hf.json")
    sh("hyperfine", "-N", "-w", "5", "-r", "200", "--export-json", hf, f"{build}/bench-noop-libc",
       f"{build}/bench-noop-5libs", " ".join(board + ["boot"]))
    means = [r["mean"] for r in json.load(open(hf))["results"]]
    boot_rss = measure_rss(board + ["boot"])
    rss_floor = measure_rss(["/bin/true"])
    noop_rss = measure_rss([f"{build}/bench-noop-libc"])
    noop5_rss = measure_rss([f"{build}/bench-noop-5libs"])
    p = subprocess.run(boot_cmd, capture_output=True, text=True)
    boot_offline_ok = p.returncode == 0

    sh(cc, "-std=c11", "-D_GNU_SOURCE", "-O2", "-I", f"{top}/platform", "-I", f"{top}/agent",
       f"{here}/range.c", f"{top}/agent/version.c", f"{top}/agent/ref.c", f"{build}/libplatform.a",
       "-o", f"{build}/bench-range")
    rng = sh(f"{build}/bench-range").stdout

    ms = lambda s: f"{s * 1000:8.1f} ms"
    print(f"\n== registry: {N} multi-arch images over TLS + Basic auth, Debian's docker-registry on loopback, "
          f"median of {RUNS}")
    print(f"{'':34} {'wall':>11} {'peak RSS':>10}  requests")
    print(f"{'boardpin resolve, cold':34} {ms(cold)} {cold_rss:7d} KiB  {cold_req}")
    print(f"{'boardpin resolve, unchanged':34} {ms(warm)} {warm_rss:7d} KiB  {warm_req}")
    print(f"{'skopeo inspect loop (same work)':34} {ms(skopeo)} {skopeo_rss:7d} KiB  per process")
    print(f"{'curl --parallel, same 60 objects':34} {ms(same)}")
    print(f"{'curl --parallel, 20 HEADs':34} {ms(heads)}")
    print(f"{'libcurl one HTTPS GET (RSS)':34} {'':11} {onefetch_rss:7d} KiB")
    print(f"ratios: cold/curl-same-work {cold / same:.2f}x (target 1.5x); unchanged/curl-20-HEADs "
          f"{warm / heads:.2f}x (target 1.5x); skopeo/cold {skopeo / cold:.1f}x; "
          f"RSS cold/onefetch {cold_rss / onefetch_rss:.2f}x (target 1.2x)")
    print(f"\n== boot with a lock that answers, no network (hyperfine, 200 runs)")
    print(f"{'no-op, libc only':34} {ms(means[0])} {noop_rss:7d} KiB")
    print(f"{'no-op, five libraries':34} {ms(means[1])} {noop5_rss:7d} KiB")
    print(f"{'boardpin boot, 20 services':34} {ms(means[2])} {boot_rss:7d} KiB  offline run ok: {boot_offline_ok}")
    print(f"ratios: boot/no-op-libc {means[2] / means[0]:.1f}x (target 3x); five-lib no-op/libc {means[1] / means[0]:.1f}x; "
          f"RSS floor of the launcher: /bin/true {rss_floor} KiB")
    print("\n== version range selection (tests/bench/range.c)")
    print(rng.rstrip())
finally:
    subprocess.run([os.path.join(top, "tests/integration/registry.sh"), "stop", work], capture_output=True)
    shutil.rmtree(work, ignore_errors=True)
