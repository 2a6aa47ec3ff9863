"""harness.py: what the integration scripts share, so that each one counts, writes configs and runs
boardpin the same way. run.sh runs every test-*.py as `test-X.py BOARDPIN WORKDIR ROOTS`, with the
registries of registry.sh started and seeded in WORKDIR.

    import harness
    from harness import check

    bp, work, roots, env = harness.args()        # the three arguments, and WORKDIR/env as a dict
    cfg = harness.config(d, {"web": f"image = {env['REG_PLAIN']}/test/multi\\nversion = 1.0"},
                         {env["REG_PLAIN"]: "insecure = true"}, {"timeout": 5})
    rc, doc, err = harness.run([bp, "-c", cfg, "--json", "resolve"], net=False)
    check("resolve pins web", rc == 0 and doc["services"][0]["status"] == "ok", (rc, err))
    harness.done()

args() -> (bp, work, roots, env): sys.argv[1:4] (roots None when not given) and load_env(work).
load_env(work) -> dict: WORKDIR/env, KEY=value lines, quotes and 'export ' dropped, comments skipped.
check(name, ok, detail="") -> bool(ok): counts one case; prints 'PASS name', or 'FAIL name: detail' with
    str(detail) cut at 900 characters.
done(): prints 'N passed, N failed' and exits 1 when a case failed or none passed, else 0.
config(d, services, registries, settings=None, extra="", name="boardpin.ini") -> path: writes d/name:
    [boardpin] with state_dir = d/state, env_dir = d/env, then each of settings (a dict, in its order; a
    value of None drops the key, also state_dir or env_dir), then the text extra; then one
    [registry HOST] section per item of registries (HOST -> its body) and one [service NAME] per item of
    services (NAME -> its body).
run(argv, net=True, timeout=120, extra_env=None) -> Result: runs argv and waits for it. net=False runs
    it in a network namespace of its own (unshare --net: not even loopback is up); extra_env is set over
    os.environ. A Result unpacks as (rc, doc, err) and also has out, raw and took:
      rc    the exit status; -N for a signal; None when argv did not end within timeout (it is killed)
      doc   stdout as JSON, or None when it is not a JSON document
      err   stderr as text, stripped ("hung: no exit within N s" when rc is None)
      out   stdout as text
      raw   stdout + stderr as bytes
      took  seconds from start to end
Text is decoded as UTF-8 with undecodable bytes replaced; doc is parsed from the bytes, so output that is
not UTF-8 never yields a document.
push(registry, repo, tags, text, arch="amd64", created=None, cmd=None) -> digest: a linux/ARCH OCI image
    whose one layer holds hello.txt with text, pushed over plain HTTP to registry ("127.0.0.1:PORT") under
    each of tags (one tag or a list); its config says created (None: no `created`) and, given cmd, that
    Cmd. Returns the manifest's digest. The same text gives the same layer.
ago(**kw) -> str: the RFC 3339 UTC time timedelta(**kw) ago, as an image config's `created` says it.
podman_in(d, env, root=None) -> argv: d/bin/podman, the real podman on storage of d's own (vfs, root
    default d/podman-root) trusting the tests' registries (env from load_env); boardpin finds it first
    when PATH starts with d/bin. Returns the argv the test itself runs it by."""
import gzip, hashlib, io, json, os, subprocess, sys, tarfile, time, urllib.request
from datetime import datetime, timedelta, timezone

passed = failed = 0


def load_env(work):
    """WORKDIR/env as a dict: KEY=value lines, quotes and 'export ' dropped, comments skipped."""
    env = {}
    for line in open(os.path.join(work, "env")):
        line = line.strip()
        if "=" not in line or line.startswith("#"):
            continue
        key, value = line.split("=", 1)
        env[key.replace("export ", "")] = value.strip("'\"")
    return env


def args():
    bp, work = sys.argv[1], sys.argv[2]
    return bp, work, sys.argv[3] if len(sys.argv) > 3 else None, load_env(work)


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"PASS {name}")
    else:
        failed += 1
        print(f"FAIL {name}: {str(detail)[:900]}")
    return bool(ok)


def done():
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed or not passed else 0)


def config(d, services, registries, settings=None, extra="", name="boardpin.ini"):
    keys = {"state_dir": f"{d}/state", "env_dir": f"{d}/env"}
    keys.update(settings or {})
    text = "[boardpin]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items() if v is not None) + extra + "\n"
    for host, body in registries.items():
        text += f"\n[registry {host}]\n{body}\n"
    for svc, body in services.items():
        text += f"\n[service {svc}]\n{body}\n"
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    return path


class Result:
    def __init__(self, rc, out, err, took):
        self.rc, self.took, self.raw = rc, took, out + err
        self.out = out.decode(errors="replace")
        self.err = err.decode(errors="replace").strip()
        try:
            self.doc = json.loads(out)
        except ValueError:
            self.doc = None

    def __iter__(self):
        return iter((self.rc, self.doc, self.err))


def run(argv, net=True, timeout=120, extra_env=None):
    if not net:
        argv = ["unshare", "--net"] + list(argv)
    environ = dict(os.environ, **(extra_env or {}))
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, capture_output=True, timeout=timeout, env=environ)
    except subprocess.TimeoutExpired as e:
        r = Result(None, e.stdout or b"", b"", time.monotonic() - t0)
        r.err = f"hung: no exit within {timeout} s"
        return r
    return Result(p.returncode, p.stdout, p.stderr, time.monotonic() - t0)


def _sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _canon(o):
    return json.dumps(o, sort_keys=True, separators=(",", ":")).encode()


def _put_blob(registry, repo, data):
    d = _sha(data)
    req = urllib.request.Request(f"http://{registry}/v2/{repo}/blobs/uploads/", method="POST", data=b"")
    loc = urllib.request.urlopen(req).headers["Location"]
    if loc.startswith("/"):
        loc = f"http://{registry}{loc}"
    sep = "&" if "?" in loc else "?"
    req = urllib.request.Request(f"{loc}{sep}digest={d}", method="PUT", data=data,
                                 headers={"Content-Type": "application/octet-stream"})
    urllib.request.urlopen(req).read()
    return d


def ago(**kw):
    return (datetime.now(timezone.utc) - timedelta(**kw)).strftime("%Y-%m-%dT%H:%M:%SZ")


def push(registry, repo, tags, text, arch="amd64", created=None, cmd=None):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mtime, info.mode = len(text.encode()), 1577836800, 0o644
        tar.addfile(info, io.BytesIO(text.encode()))
    raw = raw.getvalue()
    gz = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=gz, mtime=0) as g:
        g.write(raw)
    layer = gz.getvalue()
    config = {"architecture": arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": [_sha(raw)]}}
    if cmd is not None:
        config["config"] = {"Cmd": cmd}
    if created is not None:
        config["created"] = created
    cfg = _canon(config)
    man = _canon({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                             "digest": _put_blob(registry, repo, cfg), "size": len(cfg)},
                  "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                              "digest": _put_blob(registry, repo, layer), "size": len(layer)}]})
    for tag in [tags] if isinstance(tags, str) else tags:
        req = urllib.request.Request(f"http://{registry}/v2/{repo}/manifests/{tag}", method="PUT", data=man,
                                     headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        urllib.request.urlopen(req).read()
    return _sha(man)


def podman_in(d, env, root=None):
    """See the module's doc: a podman for case directory d, on storage of its own."""
    import atexit, shutil, tempfile
    root = root or os.path.join(d, "podman-root")
    for sub in ("bin", "podman-tmp", "tmp"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    # podman refuses a runroot over 50 characters (its sockets' paths): a short one of its own, not in d.
    runroot = tempfile.mkdtemp(prefix="bp-run.", dir="/tmp")
    atexit.register(shutil.rmtree, runroot, True)
    with open(os.path.join(d, "containers.conf"), "w") as f:
        f.write('[engine]\nevents_logger = "file"\ncgroup_manager = "cgroupfs"\n')
    real = shutil.which("podman", path="/usr/bin:/bin:/usr/local/bin")
    podman = [real, "--storage-driver", "vfs", "--root", root, "--runroot", runroot,
              "--tmpdir", f"{d}/podman-tmp"]
    path = os.path.join(d, "bin", "podman")
    with open(path, "w") as f:
        # This case's storage and policy; every subcommand is the real podman's, with the caller's argv.
        f.write(f"#!/bin/sh\nexport CONTAINERS_CONF={d}/containers.conf "
                f"CONTAINERS_REGISTRIES_CONF={env['CONTAINERS_REGISTRIES_CONF']} TMPDIR={d}/tmp\n"
                f"if [ \"$1\" = pull ]; then shift; set -- pull --signature-policy {env['CONTAINERS_POLICY']} "
                f"--tls-verify=false \"$@\"; fi\n"
                f"exec {' '.join(podman)} \"$@\"\n")
    os.chmod(path, 0o755)
    return [path]
