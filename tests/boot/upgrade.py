"""upgrade.py: the upgrade story of the boot suite (imported by boot.py), in the booted trixie amd64 root.

A real unit, healthsvc.service (tests/fixtures/healthsvc), runs what /run/boardpin/app.env pins and
answers health on 127.0.0.1. The host moves the tag test/upgrade:stable in the test registry (images
made here with seedtool.py's layout code, each with the `created` time a case needs) and runs
`boardpin upgrade` in the booted system; it asks the service over HTTP which digest it runs.

One boot for the whole story, entered with nsenter: the system keeps running between the steps, with
the host's actions (tag moves, config edits) between them. One boot per step would be simpler, but a
boot starts healthsvc.service afresh from the env file, so the service would answer with the new digest
even if upgrade had never restarted it, and "one waits" and "the timer ran" need a running manager
anyway. An upgrade runs either as the packaged boardpin-upgrade.service (`systemctl start`: its own
sandbox, where restarts go over D-Bus and podman pulls) or, where a case needs the JSON and the exit
status, as a transient unit (systemd-run --wait) whose stdout is a file and whose stderr is the
journal, so boardpin logs with its structured fields either way.

Cases: the tag moves and the service runs the new digest; a broken digest is rolled back, put on the
bad list and never retried; min_age; pull = podman (vfs storage, STATUS= while it pulls) and a failing
pull; rollout 0, 50 and 100; two upgrades at once; a boot during an upgrade; a rollback that fails too;
the timer; verify = keys (a signed digest taken, an unsigned one held, with tests/integration/sigseed.py's
fixture image and its cosign bundle pushed to the test registry). Figures: tag move to healthy service;
an upgrade of 20 services where nothing changed (wall time, registry requests from the registry's
access log).
"""
import base64
import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
HEALTHSVC = os.path.join(TOP, "tests", "fixtures", "healthsvc")
REPO = "test/upgrade"
TAG = "stable"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

B = None        # boot.py's module: check(), figure(), Root, Skip, run(), tail()


def free_port():
        with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                return s.getsockname()[1]


def rfc3339(t):
        return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------------
# images: test/upgrade:stable moved by the host


class Pusher:
        """Builds one image index per version (linux/amd64 and linux/arm64 children, the config's
        `created` as the case wants) with seedtool.py's Layout, and pushes it to the plain registry
        over the registry API: blobs, the children by digest, then the index under the tag."""

        def __init__(self, host, repo=REPO):
                sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
                sys.dont_write_bytecode = True
                import seedtool
                self.st = seedtool
                self.host = host
                self.repo = repo
                self.index = None       # the index digest of the last push
                self.dir = tempfile.mkdtemp(prefix="boardpin-upgrade-images.")
                self.layout = seedtool.Layout(self.dir)

        def _image(self, arch, variant, text, created):
                st, L = self.st, self.layout
                diff_id, layer_d, layer_size = L.layer(text)
                config = {"architecture": arch, "os": "linux", "created": created,
                          "config": {"Cmd": ["/bin/cat", "/hello.txt"], "Env": ["PATH=/bin"]},
                          "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                          "history": [{"created": created, "created_by": "boardpin boot test"}]}
                if variant:
                        config["variant"] = variant
                cfg = st.canon(config)
                man = st.canon({"schemaVersion": 2, "mediaType": st.OCI_MANIFEST,
                                "config": {"mediaType": st.OCI_CONFIG, "digest": L.blob(cfg), "size": len(cfg)},
                                "layers": [{"mediaType": st.OCI_LAYER, "digest": layer_d, "size": layer_size}]})
                return L.blob(man), len(man), [L.blob(cfg), layer_d]

        def _req(self, method, path, data=None, ctype=None, url=None):
                req = urllib.request.Request(url or f"http://{self.host}{path}", method=method, data=data,
                                             headers={"Content-Type": ctype} if ctype else {})
                try:
                        with urllib.request.urlopen(req, timeout=20) as r:
                                return r.status, r.headers, r.read()
                except urllib.error.HTTPError as e:
                        return e.code, e.headers, e.read()

        def _blob(self, d):
                st, _, _ = self._req("HEAD", f"/v2/{self.repo}/blobs/{d}")
                if st == 200:
                        return
                with open(os.path.join(self.layout.blobdir, d.split(":", 1)[1]), "rb") as f:
                        data = f.read()
                st, h, body = self._req("POST", f"/v2/{self.repo}/blobs/uploads/")
                if st != 202:
                        raise RuntimeError(f"blob upload to {self.host} answered {st}: {body[:200]!r}")
                loc = h["Location"]
                if loc.startswith("/"):
                        loc = f"http://{self.host}{loc}"
                loc += ("&" if "?" in loc else "?") + "digest=" + d
                st, _, body = self._req("PUT", None, data, "application/octet-stream", url=loc)
                if st != 201:
                        raise RuntimeError(f"blob PUT {d} answered {st}: {body[:200]!r}")

        def _manifest(self, ref, d, ctype):
                with open(os.path.join(self.layout.blobdir, d.split(":", 1)[1]), "rb") as f:
                        data = f.read()
                st, h, body = self._req("PUT", f"/v2/{self.repo}/manifests/{ref}", data, ctype)
                if st != 201 or h.get("Docker-Content-Digest") != d:
                        raise RuntimeError(f"PUT {self.repo}:{ref} answered {st} ({h.get('Docker-Content-Digest')}, "
                                           f"want {d}): {body[:200]!r}")

        def push(self, version, age_s):
                """Moves the repository's tag stable to a new index (its digest in .index); returns its
                amd64 child's digest."""
                created = rfc3339(time.time() - age_s)
                kids = []
                for arch, variant in (("amd64", None), ("arm64", "v8")):
                        d, size, blobs = self._image(arch, variant, f"{self.repo} {version} linux/{arch}\n", created)
                        for b in blobs:
                                self._blob(b)
                        self._manifest(d, d, self.st.OCI_MANIFEST)
                        kids.append((d, size, self.st.P("linux", arch, variant), None))
                idx, _ = self.layout.index(kids)
                self._manifest(TAG, idx, self.st.OCI_INDEX)
                self.index = idx
                return kids[0][0]

        def remove(self):
                shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------
# the running system


class Running:
        """The root booted with systemd-nspawn --boot, kept running; commands enter it with nsenter."""

        def __init__(self, root, label):
                self.root = root
                self.label = label
                self.console = open(root.path("/var/lib/boot-test/console.log"), "w")
                self.p = subprocess.Popen(["systemd-nspawn", "--boot", "--register=no", "--keep-unit",
                                           f"--machine={root.machine}", "-D", root.dir],
                                          stdin=subprocess.DEVNULL, stdout=self.console,
                                          stderr=subprocess.STDOUT, start_new_session=True)
                self.leader = None
                self.n = 0

        def up(self, timeout=120):
                """Waits for the container's init (nspawn's child) and for its boot to finish."""
                end = time.time() + timeout
                while time.time() < end and self.leader is None:
                        if self.p.poll() is not None:
                                return f"systemd-nspawn exited {self.p.returncode}"
                        try:
                                with open(f"/proc/{self.p.pid}/task/{self.p.pid}/children") as f:
                                        kids = f.read().split()
                        except OSError:
                                kids = []
                        for k in kids:
                                try:
                                        with open(f"/proc/{k}/comm") as f:
                                                if f.read().strip() == "systemd":
                                                        self.leader = int(k)
                                except OSError:
                                        pass
                        time.sleep(0.1)
                if self.leader is None:
                        return "no init under systemd-nspawn"
                while time.time() < end:
                        p = self.sh("systemctl is-system-running --wait", timeout=max(1, end - time.time()))
                        state = p.stdout.strip().splitlines()[-1:] if p.stdout.strip() else [""]
                        if state[0] in ("running", "degraded"):
                                return None
                        # Before the manager listens, systemctl cannot connect: asked again.
                        if state[0] in ("maintenance", "stopping", "offline"):
                                return f"is-system-running: {p.stdout.strip()}"
                        time.sleep(0.2)
                return "the boot did not finish"

        def sh(self, cmd, timeout=300):
                """A shell command inside the running system, as root; output in .stdout."""
                args = ["nsenter", "-t", str(self.leader), "-a", "--", "/bin/sh", "-c", cmd]
                try:
                        return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                              timeout=timeout, env={"PATH": PATH, "LANG": "C.UTF-8"})
                except subprocess.TimeoutExpired as e:
                        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
                        return subprocess.CompletedProcess(args, 124, out + f"\n(timeout after {timeout} s)")

        def cat(self, path):
                """A file of the running system (/run is its own tmpfs, not under root.dir): None if absent."""
                p = self.sh(f"cat {path} 2>/dev/null || echo '<absent>'")
                return None if p.stdout == "<absent>\n" else p.stdout

        def cursor(self):
                p = self.sh("journalctl -n 0 --show-cursor -q")
                m = re.search(r"cursor: (\S+)", p.stdout)
                return m.group(1) if m else None

        def journal(self, cur, unit=None):
                """Journal entries after cursor cur (of unit), as dicts."""
                sel = f"-u {unit}" if unit else ""
                after = f"--after-cursor='{cur}'" if cur else "-b"
                p = self.sh(f"journalctl -q -o json {after} {sel}")
                out = []
                for line in p.stdout.splitlines():
                        try:
                                out.append(json.loads(line))
                        except ValueError:
                                pass
                return out

        def show(self, unit, *props):
                p = self.sh(f"systemctl show {unit} " + " ".join(f"-p {x}" for x in props))
                return dict(line.split("=", 1) for line in p.stdout.splitlines() if "=" in line)

        def upgrade(self, *args):
                """boardpin --json upgrade ARGS as a transient unit: (exit status, JSON or None, its
                journal entries, stdout text)."""
                return self.boardpin("upgrade", *args)

        def boardpin(self, *args):
                self.n += 1
                unit = f"bt-upgrade-{self.n}"
                out = f"/var/lib/boot-test/{unit}.json"
                cur = self.cursor()
                p = self.sh(f"systemd-run --unit={unit} --wait -p SyslogIdentifier=boardpin "
                            f"-p StandardOutput=file:{out} -p StandardError=journal -p Environment=PATH={PATH} "
                            "/usr/bin/boardpin --json " + " ".join(args), timeout=400)
                # systemd-run --wait ends with "Main processes terminated with: code=exited, status=N/NAME".
                m = re.search(r"code=exited[,/] ?status=(\d+)", p.stdout)
                rc = int(m.group(1)) if m else None
                text = ""
                try:
                        with open(self.root.path(out)) as f:
                                text = f.read()
                        doc = json.loads(text)
                except (OSError, ValueError):
                        doc = None
                entries = self.journal(cur, unit + ".service")
                self.sh(f"systemctl reset-failed {unit}.service 2>/dev/null; systemctl stop {unit}.service 2>/dev/null")
                if rc is None:
                        rc = f"? ({p.stdout.strip()[-300:]})"
                return rc, doc, entries, text

        def stop(self):
                if self.p.poll() is None:
                        if self.leader:
                                self.sh("systemctl --no-block poweroff", timeout=20)
                        try:
                                self.p.wait(timeout=60)
                        except subprocess.TimeoutExpired:
                                os.killpg(self.p.pid, signal.SIGKILL)
                                self.p.wait(timeout=30)
                self.console.close()


def alive(port):
        """(HTTP status, body) of healthsvc's GET /alive, or (None, why)."""
        try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/alive", timeout=5) as r:
                        return r.status, r.read().decode().strip()
        except urllib.error.HTTPError as e:
                return e.code, e.read().decode().strip()
        except OSError as e:
                return None, str(e)


def lines(entries):
        return "; ".join(f"[{e.get('PRIORITY')}|{e.get('BOARDPIN_SERVICE', '')}] {e.get('MESSAGE')}"
                         for e in entries if e.get("SYSLOG_IDENTIFIER") == "boardpin") or "no lines of boardpin"


def service_json(doc, name="app"):
        for s in (doc or {}).get("services", []) or []:
                if isinstance(s, dict) and s.get("name") == name:
                        return s
        return {}


# ---------------------------------------------------------------------------------------------------
# the story


def upgrade_story(boot, builddir, roots, debs, reg):
        global B
        B = boot
        name = "trixie-amd64"
        suite, arch, _ = B.ROOTS[name]
        label = f"{suite} {arch} upgrade"
        if not roots.get(name):
                raise B.Skip()
        deb = B.find_deb(debs, suite, arch)
        if not B.check(deb, f"{label}: a boardpin package for {arch}", f"none in {debs}"):
                raise B.Skip()
        # The test service, built natively with the host's gcc (the root is the same architecture).
        exe = os.path.join(builddir, "boot", "healthsvc")
        os.makedirs(os.path.dirname(exe), exist_ok=True)
        p = B.run(["gcc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-o", exe,
                   os.path.join(HEALTHSVC, "healthsvc.c")])
        if not B.check(p.returncode == 0, f"{label}: healthsvc builds with the host's gcc", B.tail(p.stdout)):
                raise B.Skip()
        pusher = Pusher(reg.host)
        root = B.Root(builddir, name, roots[name])
        sys_ = None
        try:
                sys_ = Story(root, reg, pusher, exe, deb, label)
                sys_.run()
        finally:
                if sys_ and sys_.sys:
                        sys_.sys.stop()
                pusher.remove()
                root.remove()


WEEK = 7 * 86400
MONTH = 30 * 86400


class Story:
        def __init__(self, root, reg, pusher, exe, deb, label):
                self.root, self.reg, self.pusher, self.exe, self.deb = root, reg, pusher, exe, deb
                self.label = label
                self.port = free_port()
                self.sys = None
                self.globals = {}

        def check(self, cond, msg, why=""):
                return B.check(cond, f"{self.label}: {msg}", why)

        # -- configuration ---------------------------------------------------------------------------

        def app_section(self):
                return (f"\n[service app]\nimage = {self.reg.host}/{REPO}\nversion = {TAG}\n"
                        f"units = healthsvc.service\nhealth = http://127.0.0.1:{self.port}/alive\n")

        def write_config(self, services=None, **globals_):
                """boardpin.ini: [boardpin] with the keys given (pull, rollout, min_age), the test
                registry, and app (or the sections given)."""
                g = "".join(f"{k} = {v}\n" for k, v in globals_.items())
                text = ("[boardpin]\nplatform = auto\nstate_dir = /var/lib/boardpin\nenv_dir = /run/boardpin\n"
                        f"timeout = 10\nboot_wait = 120\n{g}\n[registry {self.reg.host}]\ninsecure = true\n"
                        + (services if services is not None else self.app_section()))
                path = self.root.path("/etc/boardpin/boardpin.ini")
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w") as f:
                        f.write(text)

        def setup(self):
                root = self.root
                p = root.install(self.deb)
                if not self.check(p.returncode == 0, f"apt-get install ./{os.path.basename(self.deb)}",
                                  B.tail(p.stdout)):
                        raise B.Skip()
                for unit in ("boardpin-upgrade.service", "boardpin-upgrade.timer"):
                        there = [d for d in ("/usr/lib/systemd/system", "/lib/systemd/system")
                                 if os.path.exists(root.path(f"{d}/{unit}"))]
                        self.check(there, f"the package installs {unit}", "not in /usr/lib/systemd/system")
                p = root.nspawn("systemctl", "is-enabled", "boardpin-upgrade.timer", merge=False)
                self.check(p.stdout.strip() == "enabled", "boardpin-upgrade.timer is enabled on install",
                           p.stdout.strip() or p.stderr.strip())
                # Off for the boot: its daily run (Persistent=, RandomizedDelaySec=) must not start an
                # upgrade between the steps. The timer case starts it by hand.
                root.nspawn("systemctl", "disable", "-q", "boardpin-upgrade.timer")
                shutil.copy(self.exe, root.path("/usr/local/bin/healthsvc"))
                os.chmod(root.path("/usr/local/bin/healthsvc"), 0o755)
                root.put(os.path.join(HEALTHSVC, "healthsvc.service"), "/etc/systemd/system/healthsvc.service",
                         subst={"@PORT@": str(self.port)})
                root.enable("healthsvc.service")
                os.makedirs(root.path("/etc/healthsvc"), exist_ok=True)
                self.set_broken()
                # podman in the booted system: vfs storage (no overlay in a container), the test
                # registry over plain HTTP, as test-inspect.py does for the host's podman.
                os.makedirs(root.path("/etc/containers"), exist_ok=True)
                with open(root.path("/etc/containers/storage.conf"), "w") as f:
                        f.write('[storage]\ndriver = "vfs"\nrunroot = "/run/containers/storage"\n'
                                'graphroot = "/var/lib/containers/storage"\n')
                with open(root.path("/etc/containers/registries.conf"), "w") as f:
                        f.write('unqualified-search-registries = []\nshort-name-mode = "enforcing"\n\n'
                                f'[[registry]]\nlocation = "{self.reg.host}"\ninsecure = true\n')
                os.makedirs(root.path("/var/lib/boot-test"), exist_ok=True)

        def set_broken(self, *digests):
                with open(self.root.path("/etc/healthsvc/broken"), "w") as f:
                        f.write("".join(d + "\n" for d in digests))

        def lock(self):
                try:
                        with open(self.root.path("/var/lib/boardpin/lock.json"), "rb") as f:
                                raw = f.read()
                        return raw, json.loads(raw)
                except (OSError, ValueError):
                        return None, {}

        def entry(self, svc="app"):
                return (self.lock()[1].get("services") or {}).get(svc) or {}

        def pinned(self, svc="app"):
                return (self.entry(svc).get("pin") or {}).get("digest")

        def env_digest(self):
                text = self.sys.cat("/run/boardpin/app.env") or ""
                m = re.search(r"^IMAGE_DIGEST=(\S+)$", text, re.M)
                return m.group(1) if m else None

        def svc_pid(self):
                return self.sys.show("healthsvc.service", "MainPID").get("MainPID")

        def wait_alive(self, digest, timeout=30):
                end = time.time() + timeout
                got = alive(self.port)
                while time.time() < end:
                        got = alive(self.port)
                        if got == (200, digest):
                                return got, True
                        time.sleep(0.05)
                return got, False

        def start_unit(self):
                """systemctl start boardpin-upgrade.service (oneshot: returns when the run is done);
                (systemctl's exit, the unit's Result, its journal entries)."""
                p, st, entries, _ = self.watch_unit()
                return p, st, entries

        def watch_unit(self):
                """start_unit(), and every STATUS= text the unit showed while it ran (asked each 50 ms)."""
                cur = self.sys.cursor()
                proc = subprocess.Popen(["nsenter", "-t", str(self.sys.leader), "-a", "--", "systemctl", "start",
                                         "boardpin-upgrade.service"], stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, env={"PATH": PATH})
                seen = []
                end = time.time() + 400
                while proc.poll() is None and time.time() < end:
                        t = self.sys.show("boardpin-upgrade.service", "StatusText").get("StatusText", "")
                        if t and (not seen or seen[-1] != t):
                                seen.append(t)
                        time.sleep(0.05)
                try:
                        out, _ = proc.communicate(timeout=max(1, end - time.time()))
                except subprocess.TimeoutExpired:
                        proc.kill()
                        out, _ = proc.communicate()
                p = subprocess.CompletedProcess(proc.args, proc.returncode, out)
                st = self.sys.show("boardpin-upgrade.service", "Result", "ExecMainStatus")
                return p, st, self.sys.journal(cur, "boardpin-upgrade.service"), seen

        # -- the cases -------------------------------------------------------------------------------

        def run(self):
                v1 = self.pusher.push("v1", MONTH)
                self.digests = {"v1": v1}
                self.setup()
                self.write_config()
                self.sys = Running(self.root, self.label)
                why = self.sys.up()
                if why is not None:
                        with open(self.root.path("/var/lib/boot-test/console.log"), errors="replace") as f:
                                why += f"; console:\n{B.tail(f.read())}"
                if not self.check(why is None, "the system boots and stays up (entered with nsenter)", why):
                        raise B.Skip()
                got, up = self.wait_alive(v1)
                if not self.check(up, "after boot healthsvc.service runs the pinned digest and is healthy",
                                  f"GET /alive: {got}, want (200, {v1}); env file digest {self.env_digest()}; " +
                                  self.sys.sh("systemctl status --no-pager -n 20 boardpin.service "
                                              "healthsvc.service").stdout[-1500:]):
                        raise B.Skip()
                # The setup of podman itself, before boardpin uses it: the first image, pulled by hand.
                ref = f"{self.reg.host}/{REPO}@{v1}"
                p = self.sys.sh(f"podman pull -q {ref} >/dev/null; echo rc=$?", timeout=300)
                self.check(p.stdout.strip().endswith("rc=0"),
                           "podman in the booted system (vfs storage) pulls from the test registry", p.stdout[-600:])
                for case in (self.case_moves, self.case_broken, self.case_min_age, self.case_pull,
                             self.case_rollout, self.case_two, self.case_boot_waits, self.case_rollback_fails,
                             self.case_timer, self.case_signed,
                             self.case_twenty):
                        try:
                                case()
                        except B.Skip:
                                pass
                        except Exception as e:      # noqa: BLE001 - one line, and the next case
                                B.bad(f"{self.label}: {case.__name__} stopped: {type(e).__name__}: {e}")

        def case_moves(self):
                """The tag moves; the packaged unit upgrades; the service runs the new digest."""
                v1 = self.digests["v1"]
                pid = self.svc_pid()
                v2 = self.digests["v2"] = self.pusher.push("v2", MONTH)
                t0 = time.time()
                p, st, entries = self.start_unit()
                got, up = self.wait_alive(v2)
                t1 = time.time()
                self.check(p.returncode == 0 and st.get("Result") == "success",
                           "tag moved: systemctl start boardpin-upgrade.service succeeds",
                           f"systemctl: {p.returncode} {p.stdout.strip()[-300:]}; {st}; journal: {lines(entries)}")
                self.check(up, "tag moved: healthsvc runs the new digest and is healthy",
                           f"GET /alive: {got}, want (200, {v2}); journal: {lines(entries)}")
                self.check(self.svc_pid() != pid, "tag moved: healthsvc.service was restarted",
                           f"MainPID {pid} before and after")
                e = self.entry()
                self.check(self.pinned() == v2 and (e.get("previous") or {}).get("digest") == v1 and
                           self.env_digest() == v2,
                           "tag moved: the lock pins the new digest, keeps the previous one; the env file follows",
                           f"lock entry {e}; env IMAGE_DIGEST {self.env_digest()}")
                fields = [x for x in entries if x.get("BOARDPIN_SERVICE") == "app" and x.get("BOARDPIN_DIGEST") == v2
                          and x.get("BOARDPIN_PLATFORM") == "linux/amd64"]
                self.check(fields, "tag moved: boardpin-upgrade.service's journal has a line with BOARDPIN_SERVICE=app, "
                           "BOARDPIN_DIGEST= the new digest, BOARDPIN_PLATFORM=linux/amd64", lines(entries))
                if up:
                        B.figure(f"{self.label}: tag move to healthy service (systemctl start "
                                 f"boardpin-upgrade.service, then GET /alive answers the new digest; the 2 s settle "
                                 f"time included): "
                                 f"{1000 * (t1 - t0):.0f} ms")

        def case_broken(self):
                """A digest the service fails for: rolled back, on the bad list, not retried."""
                v2 = self.digests["v2"]
                v3 = self.digests["v3"] = self.pusher.push("v3", MONTH)
                self.set_broken(v3)
                rc, doc, entries, text = self.sys.upgrade()
                s = service_json(doc)
                self.check(rc == 1 and s.get("action") == "rolled_back" and s.get("digest") == v2 and
                           s.get("candidate") == v3,
                           "broken digest: upgrade exits 1, action rolled_back to the previous digest",
                           f"exit {rc}, {text.strip()[:600]}; journal: {lines(entries)}")
                got = alive(self.port)
                self.check(got == (200, v2), "broken digest: healthsvc answers with the previous digest again",
                           f"GET /alive: {got}, want (200, {v2})")
                e = self.entry()
                self.check(self.pinned() == v2 and v3 in (e.get("bad") or []) and self.env_digest() == v2,
                           "broken digest: the lock pins the previous digest and its bad list has the broken one",
                           f"lock entry {e}; env IMAGE_DIGEST {self.env_digest()}")
                err = [x for x in entries if x.get("SYSLOG_IDENTIFIER") == "boardpin" and
                       int(x.get("PRIORITY", "7")) <= 3 and x.get("BOARDPIN_SERVICE") == "app" and
                       v3 in x.get("MESSAGE", "")]
                self.check(err, "broken digest: the journal has the error with BOARDPIN_SERVICE=app, naming the digest",
                           lines(entries))
                pid = self.svc_pid()
                rc, doc, entries, text = self.sys.upgrade()
                s = service_json(doc)
                self.check(rc == 0 and s.get("action") == "held" and s.get("digest") == v2 and
                           "bad" in (s.get("reason") or "") and self.svc_pid() == pid,
                           "broken digest: the next run does not retry it (held, the bad list; no restart)",
                           f"exit {rc}, {text.strip()[:600]}; MainPID {pid} -> {self.svc_pid()}; journal: {lines(entries)}")
                self.set_broken()

        def case_min_age(self):
                v2 = self.digests["v2"]
                self.write_config(min_age="3d")
                young = self.digests["young"] = self.pusher.push("young", 3600)
                raw, _ = self.lock()
                rc, doc, entries, text = self.sys.upgrade("--dry-run")
                s = service_json(doc)
                reason = s.get("reason") or ""
                age = s.get("age_s")
                self.check(rc == 0 and s.get("action") == "held" and s.get("candidate") == young and
                           "age" in reason and isinstance(age, int) and 3400 <= age <= 4000,
                           "min_age = 3d, image an hour old: --dry-run says held, and why",
                           f"exit {rc}, {text.strip()[:600]}")
                self.check(doc is not None and self.lock()[0] == raw, "min_age: --dry-run wrote nothing to the lock",
                           f"exit {rc}, {text.strip()[:300]}")
                rc, doc, entries, text = self.sys.upgrade()
                s = service_json(doc)
                self.check(rc == 0 and s.get("action") == "held" and self.pinned() == v2 and
                           alive(self.port) == (200, v2),
                           "min_age = 3d, image an hour old: nothing moves",
                           f"exit {rc}, {text.strip()[:600]}; pinned {self.pinned()}; GET /alive {alive(self.port)}")
                old = self.digests["old"] = self.pusher.push("old", WEEK)
                rc, doc, entries, text = self.sys.upgrade()
                s = service_json(doc)
                got, up = self.wait_alive(old, timeout=5)
                self.check(rc == 0 and s.get("action") == "upgraded" and self.pinned() == old and up,
                           "min_age = 3d, image a week old: it moves, and the service runs it",
                           f"exit {rc}, {text.strip()[:600]}; pinned {self.pinned()}; GET /alive {got}; "
                           f"journal: {lines(entries)}")

        def case_pull(self):
                """pull = podman through the packaged unit; then a podman that fails."""
                self.write_config(pull="podman")
                v = self.digests["pulled"] = self.pusher.push("pulled", WEEK)
                # The real podman, behind a wrapper that takes 3 s first: long enough to see the
                # unit's STATUS= while it pulls, as `systemctl status` would on a Pi Zero.
                wrapper = self.root.path("/usr/local/bin/podman")
                with open(wrapper, "w") as f:
                        f.write('#!/bin/sh\nsleep 3\nexec /usr/bin/podman "$@"\n')
                os.chmod(wrapper, 0o755)
                try:
                        p, st, entries, seen = self.watch_unit()
                finally:
                        os.unlink(wrapper)
                self.check(any(t.startswith("pulling app") for t in seen),
                           "pull = podman: boardpin-upgrade.service's STATUS= says it is pulling app while it pulls",
                           f"StatusText seen: {seen}")
                got, up = self.wait_alive(v, timeout=10)
                ref = f"{self.reg.host}/{REPO}@{v}"
                have = self.sys.sh(f"podman image exists {ref}; echo rc=$?")
                self.check(p.returncode == 0 and st.get("Result") == "success" and up and
                           have.stdout.strip().endswith("rc=0"),
                           "pull = podman (vfs): boardpin-upgrade.service pre-pulls from the test registry and upgrades",
                           f"systemctl {p.returncode} {st}; GET /alive {got}; podman image exists {ref}: "
                           f"{have.stdout.strip()[-300:]}; journal: {lines(entries)}")
                # A podman that fails, first in PATH: nothing changes, byte for byte.
                with open(self.root.path("/usr/local/bin/podman"), "w") as f:
                        f.write("#!/bin/sh\necho \"podman (boot test): cannot pull $*\" >&2\nexit 125\n")
                os.chmod(self.root.path("/usr/local/bin/podman"), 0o755)
                try:
                        w = self.pusher.push("unpullable", WEEK)
                        raw, _ = self.lock()
                        env = self.sys.cat("/run/boardpin/app.env")
                        pid = self.svc_pid()
                        rc, doc, entries, text = self.sys.upgrade()
                        s = service_json(doc)
                        self.check(rc == 1 and s.get("action") == "failed" and s.get("candidate") == w,
                                   "a failing pull: upgrade exits 1, action failed",
                                   f"exit {rc}, {text.strip()[:600]}; journal: {lines(entries)}")
                        self.check(doc is not None and self.lock()[0] == raw and
                                   self.sys.cat("/run/boardpin/app.env") == env and
                                   self.svc_pid() == pid and alive(self.port) == (200, v),
                                   "a failing pull changes nothing (lock and env file byte for byte, no restart)",
                                   f"pinned {self.pinned()} (was {v}); MainPID {pid} -> {self.svc_pid()}")
                        out = [x for x in entries if x.get("BOARDPIN_SERVICE") == "app" and
                               "cannot pull" in x.get("MESSAGE", "")]
                        self.check(out, "a failing pull: podman's output is in the journal with BOARDPIN_SERVICE=app",
                                   lines(entries))
                finally:
                        os.unlink(self.root.path("/usr/local/bin/podman"))
                self.write_config()

        def case_rollout(self):
                before = self.pinned()
                self.write_config(rollout="0")
                v = self.digests["phased"] = self.pusher.push("phased", WEEK)
                rc, doc, entries, text = self.sys.upgrade()
                s = service_json(doc)
                ph = s.get("phase") or {}
                self.check(rc == 0 and s.get("action") == "held" and ph.get("rollout") == 0 and
                           ph.get("included") is False and self.pinned() == before,
                           "rollout = 0: nothing moves (held, not in the phase)", f"exit {rc}, {text.strip()[:600]}")
                self.write_config(rollout="50")
                places = []
                for _ in range(2):
                        rc, doc, entries, text = self.sys.upgrade("--dry-run")
                        places.append((service_json(doc).get("phase") or {}).get("place"))
                self.check(places[0] is not None and places[0] == places[1],
                           "rollout = 50: this machine's place for the digest is the same on every run", f"{places}")
                self.write_config(rollout="100")
                rc, doc, entries, text = self.sys.upgrade()
                s = service_json(doc)
                ph = s.get("phase") or {}
                got, up = self.wait_alive(v, timeout=5)
                self.check(rc == 0 and s.get("action") == "upgraded" and ph.get("included") is True and
                           self.pinned() == v and up,
                           "rollout = 100: it moves", f"exit {rc}, {text.strip()[:600]}; GET /alive {got}")
                self.write_config()

        def case_two(self):
                """Two upgrades at once: the packaged unit and a transient one; one waits for the other."""
                v = self.digests["two"] = self.pusher.push("two", WEEK)
                cur = self.sys.cursor()
                first = subprocess.Popen(["nsenter", "-t", str(self.sys.leader), "-a", "--", "systemctl", "start",
                                          "boardpin-upgrade.service"], stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, text=True, env={"PATH": PATH})
                # The packaged run takes the state lock first, then says "resolving" (STATUS=), and holds
                # the lock through restart, settle (UPGRADE_SETTLE_MS, 2 s) and health check: the second one,
                # started once that status shows, finds it held.
                locked = self.until(lambda: self.running_status() != "")
                rc, doc, entries, text = self.sys.upgrade()
                first.communicate(timeout=400)
                st = self.sys.show("boardpin-upgrade.service", "Result")
                unit_lines = self.sys.journal(cur, "boardpin-upgrade.service")
                waits = [x for x in unit_lines + entries if "waiting for another boardpin" in x.get("MESSAGE", "")]
                s = service_json(doc)
                self.check(locked and len(waits) == 1 and rc == 0 and st.get("Result") == "success",
                           "two upgrades at once: both succeed, one logs that it waits for the other",
                           f"first's status seen: {locked}; second: exit {rc}, {text.strip()[:400]}; unit {st}; waiting lines: {len(waits)}; "
                           f"unit journal: {lines(unit_lines)}; second's journal: {lines(entries)}")
                self.check(self.pinned() == v and s.get("action") in ("unchanged", "upgraded") and
                           alive(self.port) == (200, v),
                           "two upgrades at once: the tag's digest is pinned and runs",
                           f"pinned {self.pinned()}, second {s.get('action')}, GET /alive {alive(self.port)}")

        def case_boot_waits(self):
                """A boot (boardpin.service started again) while an upgrade runs waits for it, and the
                upgrade's restart of the consumer, ordered After=boardpin.service, does not wait for that
                boot (which waits for the upgrade's lock) until the boot's wait runs out. The upgrade is held
                in its pull, behind a podman wrapper, until the boot is seen waiting: the restart then comes
                while the boot's start job runs, every time."""
                v = self.digests["bootwait"] = self.pusher.push("bootwait", WEEK)
                gate = "/run/boardpin-test-bootwait"
                self.sys.sh(f"rm -f {gate}")
                self.write_config(pull="podman")
                wrapper = self.root.path("/usr/local/bin/podman")
                with open(wrapper, "w") as f:
                        f.write(f'#!/bin/sh\nif [ "$1" = pull ]; then while [ ! -e {gate} ]; do sleep 0.1; done; fi\n'
                                'exec /usr/bin/podman "$@"\n')
                os.chmod(wrapper, 0o755)
                cur = self.sys.cursor()
                boot = None
                try:
                        first = subprocess.Popen(["nsenter", "-t", str(self.sys.leader), "-a", "--", "systemctl",
                                                  "start", "boardpin-upgrade.service"], stdout=subprocess.PIPE,
                                                 stderr=subprocess.STDOUT, text=True, env={"PATH": PATH})
                        pulling = self.until(lambda: self.running_status().startswith("pulling"))
                        boot = subprocess.Popen(["nsenter", "-t", str(self.sys.leader), "-a", "--", "systemctl",
                                                 "restart", "boardpin.service"], stdout=subprocess.PIPE,
                                                stderr=subprocess.STDOUT, text=True, env={"PATH": PATH})
                        waiting = self.until(lambda: any("waiting for another boardpin" in x.get("MESSAGE", "") for x
                                                         in self.sys.journal(cur, "boardpin.service")))
                finally:
                        self.sys.sh(f"touch {gate}")
                        out = boot.communicate(timeout=400)[0] if boot else ""
                        first.communicate(timeout=400)
                        os.unlink(wrapper)
                        self.sys.sh(f"rm -f {gate}")
                        self.write_config()
                up = self.sys.journal(cur, "boardpin-upgrade.service")
                freed = [x for x in up if "restarted without waiting for it" in x.get("MESSAGE", "")]
                st = self.sys.show("boardpin.service", "ActiveState", "Result")
                ust = self.sys.show("boardpin-upgrade.service", "Result")
                self.check(pulling and waiting, "a boot while an upgrade runs: the upgrade holds the lock in its pull "
                           "and the boot waits for it", f"pulling {pulling}, boot waiting {waiting}")
                self.check(boot.returncode == 0 and st.get("ActiveState") == "active" and ust.get("Result") == "success"
                           and freed and self.pinned() == v and self.env_digest() == v and alive(self.port) == (200, v),
                           "a boot while an upgrade runs: the consumer's restart does not wait for the boot, the "
                           "upgrade succeeds, then the boot pins what it left",
                           f"restart: {boot.returncode} {out.strip()[-300:]}; {st}; upgrade {ust}; upgrade's "
                           f"journal: {lines(up)}; pinned {self.pinned()}, env {self.env_digest()}, "
                           f"GET /alive {alive(self.port)}, want {v}")

        def running_status(self):
                """boardpin-upgrade.service's STATUS= while it runs; "" before (systemd clears it at the start)."""
                st = self.sys.show("boardpin-upgrade.service", "ActiveState", "StatusText")
                return st.get("StatusText", "") if st.get("ActiveState") == "activating" else ""

        def until(self, cond, timeout=120):
                end = time.time() + timeout
                while time.time() < end:
                        if cond():
                                return True
                        time.sleep(0.2)
                return False

        def case_rollback_fails(self):
                """The new digest fails its health check and the previous one will not start again: the
                previous env stays, the error says so, and the new digest is on the bad list."""
                old = self.pinned()
                new = self.digests["doomed"] = self.pusher.push("doomed", WEEK)
                self.set_broken(new)
                with open(self.root.path("/etc/healthsvc/dead"), "w") as f:
                        f.write(old + "\n")
                d = self.root.path("/etc/systemd/system/healthsvc.service.d")
                os.makedirs(d, exist_ok=True)
                # A start job that ends 'failed' for a digest named in /etc/healthsvc/dead.
                with open(os.path.join(d, "dead.conf"), "w") as f:
                        f.write("[Service]\nExecStartPre=/bin/sh -c 'if grep -qx \"$$IMAGE_DIGEST\" /etc/healthsvc/dead; "
                                "then echo \"$$IMAGE_DIGEST will not start\" >&2; exit 1; fi'\n")
                self.sys.sh("systemctl daemon-reload")
                try:
                        rc, doc, entries, text = self.sys.upgrade()
                        s = service_json(doc)
                        reason = s.get("reason") or ""
                        self.check(rc == 1 and s.get("action") == "failed" and "failed too" in reason and
                                   old in reason,
                                   "rollback fails too: upgrade exits 1, action failed, the reason says the rollback "
                                   "failed and which digest the env file names",
                                   f"exit {rc}, {text.strip()[:800]}")
                        e = self.entry()
                        self.check(self.env_digest() == old and self.pinned() == old and new in (e.get("bad") or []),
                                   "rollback fails too: the previous env stays, and the new digest is on the bad list",
                                   f"env IMAGE_DIGEST {self.env_digest()}, want {old}; lock entry {e}")
                        err = [x for x in entries if int(x.get("PRIORITY", "7")) <= 3 and
                               x.get("BOARDPIN_SERVICE") == "app" and "failed too" in x.get("MESSAGE", "")]
                        self.check(err, "rollback fails too: the journal says so at error priority", lines(entries))
                finally:
                        os.unlink(os.path.join(d, "dead.conf"))
                        os.unlink(self.root.path("/etc/healthsvc/dead"))
                        self.set_broken()
                        self.sys.sh("systemctl daemon-reload; systemctl restart healthsvc.service")
                got, up = self.wait_alive(old, timeout=10)
                self.check(up, "rollback fails too: once the previous digest can start, the service runs it",
                           f"GET /alive {got}, want (200, {old})")

        def case_timer(self):
                v = self.digests["timer"] = self.pusher.push("timer", WEEK)
                d = self.root.path("/etc/systemd/system/boardpin-upgrade.timer.d")
                os.makedirs(d, exist_ok=True)
                # RandomizedDelaySec= and the default AccuracySec=1min apply to OnActiveSec= too.
                with open(os.path.join(d, "soon.conf"), "w") as f:
                        f.write("[Timer]\nOnActiveSec=1s\nRandomizedDelaySec=0\nAccuracySec=1ms\n")
                self.sys.sh("systemctl daemon-reload")
                cur = self.sys.cursor()
                p = self.sys.sh("systemctl start boardpin-upgrade.timer")
                end = time.time() + 60
                ran = []
                while time.time() < end:
                        entries = self.sys.journal(cur, "boardpin-upgrade.service")
                        ran = [x for x in entries if x.get("SYSLOG_IDENTIFIER") == "boardpin"]
                        st = self.sys.show("boardpin-upgrade.service", "ActiveState", "Result")
                        if ran and st.get("ActiveState") in ("inactive", "failed"):
                                break
                        time.sleep(0.5)
                got, up = self.wait_alive(v, timeout=5)
                self.check(p.returncode == 0 and ran and up,
                           "systemctl start boardpin-upgrade.timer (OnActiveSec=1s): the journal of "
                           "boardpin-upgrade.service shows the run, and it upgraded",
                           f"start: {p.stdout.strip()}; journal: {lines(ran)}; GET /alive {got}, want {v}")
                self.sys.sh("systemctl stop boardpin-upgrade.timer")

        def case_signed(self):
                """verify = keys for a second service, signed: a signed digest is taken by the packaged
                unit, an unsigned one is held and not bad-listed. The signed digest is the image of
                tests/fixtures/signatures with its cosign bundle (referrers tag): a bundle binds the
                digest alone, so it holds under this registry's name, where the classic payloads made
                there (naming 127.0.0.1:5055/signed/app) are for another image. The first pin is signed
                in the classic form with keys/p256-private.pem over this registry's name, as
                test-verify.py signs; both public keys are listed, as a publisher rotating keys would."""
                import sigseed
                repo, svc = "signed/boot", "signed"
                keys = {"key1.pub": os.path.join(sigseed.FIXTURES, "key1.pub"),
                        "own.pub": os.path.join(sigseed.FIXTURES, "keys", "p256.pub")}
                os.makedirs(self.root.path("/etc/boardpin/keys"), exist_ok=True)
                for name, src in keys.items():
                        dst = self.root.path(f"/etc/boardpin/keys/{name}")
                        shutil.copy(src, dst)
                        os.chown(dst, 0, 0)
                        os.chmod(dst, 0o644)
                sigs = sigseed.Registry(self.reg.work, None, None)
                sigs.base = f"http://{self.reg.host}"
                pusher = Pusher(self.reg.host, repo)
                try:
                        # First pin: a fresh image, signed by the second key.
                        pusher.push("signed first", WEEK)
                        first = pusher.index
                        body = sigseed.payload(f"{self.reg.host}/{repo}", first)
                        sig = base64.b64encode(sigseed.openssl_sign(os.path.join(sigseed.FIXTURES, "keys",
                                                                                 "p256-private.pem"), body))
                        sigs.push_signatures(repo, first, *sigseed.sig_manifest([(body, sig.decode())]))
                        section = (f"\n[service {svc}]\nimage = {self.reg.host}/{repo}\nversion = {TAG}\n"
                                   "verify = /etc/boardpin/keys/key1.pub /etc/boardpin/keys/own.pub\n")
                        self.write_config(services=self.app_section() + section)
                        rc, doc, entries, text = self.sys.boardpin("resolve")
                        e = self.entry(svc)
                        want = {"key": sigseed.fingerprint(keys["own.pub"]), "format": "simple-signing",
                                "digest": first}
                        if not self.check(rc == 0 and e.get("index_digest") == first and
                                          (e.get("pin") or {}).get("verified") == want,
                                          "verify = two keys: resolve pins a digest signed by one of them (classic "
                                          "form), and the lock says what verified it",
                                          f"exit {rc}, {text.strip()[:600]}; lock entry {e}; want verified {want}; "
                                          f"journal: {lines(entries)}"):
                                return
                        # The fixture image, signed by key1 in cosign's bundle form: the packaged unit takes it.
                        blobs, index, children = sigseed.image_blobs()
                        sigs.push_image(repo, [TAG])
                        m = sigseed.fixture("bundle", "bundle-manifest.json")
                        layer = json.loads(m)["layers"][0]["digest"]
                        sigs.push_referrers(repo, index, ([m], sigseed.fixture("bundle", "referrers.json")),
                                            {sigseed.sha(b"{}"): b"{}",
                                             layer: sigseed.fixture("bundle", layer.replace(":", "-"))})
                        p, st, entries = self.start_unit()
                        e = self.entry(svc)
                        env = self.sys.cat(f"/run/boardpin/{svc}.env") or ""
                        want = {"key": sigseed.fingerprint(keys["key1.pub"]), "format": "bundle", "digest": index}
                        self.check(p.returncode == 0 and st.get("Result") == "success" and
                                   e.get("index_digest") == index and
                                   (e.get("pin") or {}).get("digest") == children["amd64"] and
                                   (e.get("pin") or {}).get("verified") == want and
                                   f"IMAGE_DIGEST={children['amd64']}\n" in env,
                                   "verify: boardpin-upgrade.service takes a digest signed by key1 (cosign bundle, "
                                   "referrers tag), the lock records format bundle and key1's fingerprint, the env "
                                   "file follows",
                                   f"systemctl {p.returncode} {st}; lock entry {e}; want verified {want}, pin "
                                   f"{children['amd64']}; env {env.strip()!r}; journal: {lines(entries)}")
                        # The tag moves to an unsigned digest: held, not bad-listed, nothing changes.
                        unsigned = pusher.push("unsigned", WEEK)
                        before, env = {k: e.get(k) for k in ("pin", "index_digest", "previous")}, \
                                self.sys.cat(f"/run/boardpin/{svc}.env")
                        rc, doc, entries, text = self.sys.upgrade()
                        s = service_json(doc, svc)
                        e = self.entry(svc)
                        held = e.get("held") or {}
                        self.check(rc == 0 and s.get("action") == "held" and s.get("hold") == "unsigned" and
                                   held.get("code") == "unsigned" and
                                   "is not signed by a trusted key" in (held.get("reason") or ""),
                                   "verify: an unsigned new digest is held with code unsigned (upgrade --json and "
                                   "the lock's held.code), exit 0",
                                   f"exit {rc}, {text.strip()[:600]}; lock entry {e}; journal: {lines(entries)}")
                        after = {k: e.get(k) for k in ("pin", "index_digest", "previous")}
                        self.check(after == before and before["pin"] and not e.get("bad") and
                                   env and self.sys.cat(f"/run/boardpin/{svc}.env") == env,
                                   "verify: the held unsigned digest is not bad-listed; pin and env file unchanged",
                                   f"lock before {before}, after {e}; env {env!r} -> "
                                   f"{self.sys.cat(f'/run/boardpin/{svc}.env')!r}; unsigned amd64 {unsigned}")
                        warn = [x for x in entries if x.get("BOARDPIN_SERVICE") == svc and
                                x.get("PRIORITY") == "4" and "is not signed by a trusted key" in x.get("MESSAGE", "")]
                        self.check(warn, "verify: the journal tells the hold at warning priority with "
                                   f"BOARDPIN_SERVICE={svc}", lines(entries))
                        # The hold went into the lock (its reason names the digest with an ellipsis):
                        # the next run must read that lock back, not move it aside, and hold again.
                        rc, doc, entries, text = self.sys.upgrade()
                        s = service_json(doc, svc)
                        e = self.entry(svc)
                        moved = [x for x in entries if "lock.json" in x.get("MESSAGE", "")]
                        self.check(rc == 0 and s.get("hold") == "unsigned" and not moved and
                                   {k: e.get(k) for k in ("pin", "index_digest", "previous")} == before and
                                   (e.get("held") or {}).get("code") == "unsigned",
                                   "verify: the next upgrade reads back the lock holding the unsigned digest "
                                   "(nothing moved aside) and holds it again",
                                   f"exit {rc}, {text.strip()[:400]}; lock entry {e}; journal: {lines(entries)}")
                finally:
                        pusher.remove()
                        self.write_config()

        def case_twenty(self):
                """20 services on the seeded images, pinned; then an upgrade where nothing changed."""
                tags = [t for t in ("1.0", "1.28.0", "1.28.1", "1.28.2", "1.29.0", "1.29.1", "1.29.2", "1.29.3",
                                    "1.29.4", "1.29.9", "1.29.10", "1.29.11", "1.30.0", "1.30.1", "1.30.2", "1.30.3",
                                    "1.30.4", "1.31.0", "1.31.1", "2.0.0")]
                sections = "".join(f"\n[service s{i:02d}]\nimage = {self.reg.host}/test/many\nversion = {t}\n"
                                   for i, t in enumerate(tags))
                self.write_config(services=sections)
                p = self.sys.sh("boardpin -q resolve >/dev/null; echo rc=$?")
                if not self.check("rc=0" in p.stdout, "20 services: boardpin resolve pins them", p.stdout[-600:]):
                        return
                log = os.path.join(self.reg.work, "registry-plain.log")
                off = os.path.getsize(log)
                t0 = time.time()
                p = self.sys.sh("boardpin --json upgrade 2>/var/lib/boot-test/twenty.err; echo rc=$?")
                wall = time.time() - t0
                time.sleep(0.5)         # the registry's access log line may follow its answer
                with open(log, errors="replace") as f:
                        f.seek(off)
                        reqs = re.findall(r'"(GET|HEAD|POST|PUT|DELETE|PATCH) (/\S*) HTTP', f.read())
                heads = sum(1 for m, _ in reqs if m == "HEAD")
                gets = sum(1 for m, _ in reqs if m == "GET")
                text = p.stdout.rsplit("rc=", 1)[0]
                try:
                        doc = json.loads(text)
                except ValueError:
                        doc = None
                acts = sorted({s.get("action") for s in (doc or {}).get("services", [])})
                n = len((doc or {}).get("services", []))
                self.check(p.stdout.strip().endswith("rc=0") and n == 20 and acts == ["unchanged"],
                           "20 services, nothing changed: upgrade exits 0, all 20 unchanged",
                           f"{p.stdout[-600:]}")
                self.check(heads == 20 and gets == 0 and len(reqs) == 20,
                           "20 services, nothing changed: one HEAD per service and no GET (registry's access log)",
                           f"{len(reqs)} requests: {heads} HEAD, {gets} GET: {reqs[:30]}")
                if doc is not None:
                        own = doc.get("requests")
                        B.figure(f"{self.label}: upgrade of 20 services where nothing changed: {1000 * wall:.0f} ms "
                                 f"wall (nsenter included), {len(reqs)} registry requests in the registry's log "
                                 f"({heads} HEAD, {gets} GET)" +
                                 (f"; upgrade --json counts {json.dumps(own)}" if own is not None else ""))
                self.write_config()
