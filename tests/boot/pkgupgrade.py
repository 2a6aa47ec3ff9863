"""pkgupgrade.py: the package story of the boot suite (imported by boot.py), in the booted bookworm and
trixie amd64 roots: package upgrades keep services running, and purge removes only what boardpin wrote.

The package is installed at version N; two copies re-versioned with dpkg-deb (N+bt1, N+bt2: the same
files and maintainer scripts, only a higher Version:) play the next releases. N+bt1 is served from a
local apt repository (dpkg-scanpackages), so `apt-get upgrade` and `apt-get install --reinstall` (what
`apt reinstall` does) take it as they would from a mirror; N+bt2 is installed twice with `dpkg -i`. The
system stays booted throughout (upgrade.py's Running, entered with nsenter), with
required-consumer.service running: Requires= and After=boardpin.service, a long-running main process.
After each step its main PID must be the one it had before the first, and boardpin.service still
active. boardpin-upgrade.service is held in its start (an ExecStartPre= sleep in a drop-in) through
all the steps: the same invocation must still be running at the end, as an upgrade in progress must
not be killed by a package upgrade.

boardpin is configured with a state_dir, env_dir and quadlet_dir of its own under /srv/bp (writable
through a drop-in of boardpin.service, as boardpin.ini(5) says), where the host has put a hand-written
other.container.d/boardpin.conf without boardpin's header, and an unrelated file in env_dir. `apt-get
purge` in the running system must remove every file boardpin wrote there and the directories it made,
and leave the foreign files and the directories that were there before.
"""
import os
import shutil
import tempfile
import time

import upgrade

B = None        # boot.py's module
SRV = "/srv/bp"
STATE, ENV, QUADLET = f"{SRV}/state", f"{SRV}/env", f"{SRV}/quadlet"
FOREIGN_DROPIN = f"{QUADLET}/other.container.d/boardpin.conf"
FOREIGN_ENV = f"{ENV}/notes.txt"


def reversion(deb, out, suffix):
        """deb copied with Version: VERSION+suffix; returns (path, version)."""
        tmp = tempfile.mkdtemp(prefix="boardpin-reversion.")
        try:
                p = B.run(["dpkg-deb", "-R", deb, tmp])
                if p.returncode != 0:
                        raise RuntimeError(f"dpkg-deb -R {deb}: {B.tail(p.stdout)}")
                control = os.path.join(tmp, "DEBIAN", "control")
                with open(control) as f:
                        lines = f.read().splitlines()
                version = None
                for i, line in enumerate(lines):
                        if line.startswith("Version: "):
                                version = line.split(": ", 1)[1] + suffix
                                lines[i] = f"Version: {version}"
                with open(control, "w") as f:
                        f.write("\n".join(lines) + "\n")
                arch = os.path.basename(deb).rsplit("_", 1)[1]
                path = os.path.join(out, f"boardpin_{version}_{arch}")
                p = B.run(["dpkg-deb", "--root-owner-group", "-b", tmp, path])
                if p.returncode != 0:
                        raise RuntimeError(f"dpkg-deb -b: {B.tail(p.stdout)}")
                return path, version
        finally:
                shutil.rmtree(tmp, ignore_errors=True)


def package_story(boot, builddir, roots, debs, reg, name):
        global B
        B = boot
        upgrade.B = boot
        suite, arch, _ = B.ROOTS[name]
        label = f"{suite} {arch} package"
        root = B.installed_root(builddir, roots, debs, name, label, what=" (version N)")
        deb = B.find_deb(debs, suite, arch)
        sys_ = None
        try:
                versions = prepare(root, reg, deb)
                sys_ = upgrade.Running(root, label)
                why = sys_.up()
                if not B.check(why is None, f"{label}: the system booted and runs", why or ""):
                        raise B.Skip()
                profile(sys_, label)
                keeps_running(sys_, label, versions)
                purge_only_ours(sys_, root, label)
        finally:
                if sys_:
                        sys_.stop()
                root.remove()


def prepare(root, reg, deb):
        """Config, directories, units and the next two packages; returns (N, N+1, N+2) versions."""
        for d in (SRV, ENV, f"{QUADLET}/other.container.d"):
                os.makedirs(root.path(d), mode=0o755, exist_ok=True)
                os.chmod(root.path(d), 0o755)
        with open(root.path(FOREIGN_DROPIN), "w") as f:
                f.write("# written by hand\n[Container]\nImage=docker.io/library/other:1\n")
        with open(root.path(FOREIGN_ENV), "w") as f:
                f.write("not boardpin's\n")
        B.write_config(root, reg, B.service_section("web", f"{reg.host}/test/multi",
                                                     extra="quadlet = web.container\n"))
        path = root.path("/etc/boardpin/boardpin.ini")
        with open(path) as f:
                text = f.read()
        text = text.replace("state_dir = /var/lib/boardpin", f"state_dir = {STATE}")
        text = text.replace("env_dir = /run/boardpin", f"env_dir = {ENV}\nquadlet_dir = {QUADLET}")
        with open(path, "w") as f:
                f.write(text)
        os.makedirs(root.path("/etc/systemd/system/boardpin.service.d"), exist_ok=True)
        with open(root.path("/etc/systemd/system/boardpin.service.d/srv.conf"), "w") as f:
                f.write(f"[Service]\nReadWritePaths={SRV}\n")
        # An upgrade in progress through every step: held in its start, so that it never ends by itself.
        os.makedirs(root.path("/etc/systemd/system/boardpin-upgrade.service.d"), exist_ok=True)
        with open(root.path("/etc/systemd/system/boardpin-upgrade.service.d/hold.conf"), "w") as f:
                f.write("[Service]\nExecStartPre=/bin/sleep 900\n")
        root.put(os.path.join(B.HERE, "required-consumer.service"), "/etc/systemd/system/required-consumer.service",
                 subst={"@ENV_DIR@": ENV})
        root.enable("required-consumer.service")
        os.makedirs(root.path("/var/lib/boot-test"), exist_ok=True)

        # N+1 in a local apt repository, N+2 as a file for dpkg -i.
        repo = root.path("/var/cache/boot-test/repo")
        os.makedirs(repo, exist_ok=True)
        n1, v1 = reversion(deb, repo, "+bt1")
        n2, v2 = reversion(deb, root.path("/var/cache/boot-test"), "+bt2")
        p = B.run(["dpkg-scanpackages", "-m", "."], cwd=repo, merge=False)
        if not B.check(p.returncode == 0, f"{root.name}: dpkg-scanpackages makes the test repository", p.stderr):
                raise B.Skip()
        with open(os.path.join(repo, "Packages"), "w") as f:
                f.write(p.stdout)
        with open(root.path("/etc/apt/sources.list.d/boot-test.list"), "w") as f:
                f.write("deb [trusted=yes] file:/var/cache/boot-test/repo ./\n")
        v0 = os.path.basename(deb).split("_")[1]
        for a, b in ((v1, v0), (v2, v1)):
                p = B.run(["dpkg", "--compare-versions", a, "gt", b])
                B.check(p.returncode == 0, f"{root.name}: version {a} is newer than {b}")
        return v0, v1, os.path.basename(n2)


APT = "env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Options::=--force-confold"
# Only the test repository: the root's own lists stay as mmdebstrap left them, and nothing is fetched.
APT_LOCAL = ("-o Dir::Etc::sourcelist=sources.list.d/boot-test.list -o Dir::Etc::sourceparts=- "
             "-o APT::Get::List-Cleanup=0")


def profile(sys_, label):
        """Figures: where a lock-answered `boardpin boot` spends its time in this root, with its own
        libraries, measured from the host (perf stat, strace -c) through nsenter; beside /bin/true and
        `boardpin --version` (exec and library loading). Env files unchanged, so nothing is written."""
        enter = ["nsenter", "-t", str(sys_.leader), "-a", "--"]
        runs = {"boardpin boot": ["/usr/bin/boardpin", "-q", "boot"], "boardpin --version": ["/usr/bin/boardpin",
                "--version"], "/bin/true": ["/bin/true"]}
        if shutil.which("perf"):
                cpu = {}
                for name, cmd in runs.items():
                        p = B.run(["perf", "stat", "-r", "30", "-x", ",", "-e", "task-clock,page-faults"] + enter + cmd,
                                  merge=False)
                        got = {f[2]: float(f[0]) for f in (line.split(",") for line in p.stderr.splitlines())
                               if len(f) > 3 and f[0].replace(".", "").isdigit()}
                        cpu[name] = got
                B.figure(f"{label}: CPU per run (perf stat -r 30 -e task-clock,page-faults nsenter -t PID1 -a -- CMD, "
                         "nsenter included): " + "; ".join(
                                 f"{n} {c.get('task-clock', 0):.2f} ms, {c.get('page-faults', 0):.0f} faults"
                                 for n, c in cpu.items()))
        if shutil.which("strace"):
                out = os.path.join(tempfile.mkdtemp(prefix="boardpin-strace."), "c")
                B.run(["strace", "-f", "-w", "-c", "-o", out] + enter + runs["boardpin boot"])
                try:
                        with open(out) as f:
                                rows = [line.split() for line in f.read().splitlines()[2:]
                                        if line.strip() and not line.startswith("-")]
                        shutil.rmtree(os.path.dirname(out), ignore_errors=True)
                except OSError:
                        rows = []
                top = [f"{r[-1]} {float(r[1]) * 1000:.2f} ms/{r[3]}" for r in rows
                       if len(r) >= 5 and r[-1] not in ("total", "wait4")][:8]
                B.figure(f"{label}: boardpin boot's system calls by wall time (strace -f -w -c, nsenter included, its wait4 left out): "
                         + ", ".join(top))


def keeps_running(sys_, label, versions):
        v0, v1, n2 = versions
        consumer = sys_.show("required-consumer.service", "MainPID", "ActiveState")
        pid0 = consumer.get("MainPID")
        if not B.check(consumer.get("ActiveState") == "active" and pid0 not in (None, "0"),
                       f"{label}: the consumer with Requires=boardpin.service runs",
                       f"{consumer}\n{sys_.sh('systemctl status required-consumer.service boardpin.service').stdout}"):
                raise B.Skip()
        B.figure(f"{label}: consumer (Requires=boardpin.service) MainPID {pid0} with boardpin {v0} installed")
        sys_.sh("systemctl start --no-block boardpin-upgrade.service")
        held = {}
        for _ in range(50):
                held = sys_.show("boardpin-upgrade.service", "InvocationID", "ActiveState", "ControlPID")
                if held.get("ActiveState") == "activating" and held.get("ControlPID", "0") != "0":
                        break
                time.sleep(0.1)
        B.check(held.get("ActiveState") == "activating", f"{label}: boardpin-upgrade.service is running", f"{held}")

        p = sys_.sh(f"{APT} {APT_LOCAL} update")
        B.check(p.returncode == 0, f"{label}: apt-get update of the test repository", B.tail(p.stdout))
        steps = [
                (f"apt-get upgrade to {v1}", f"{APT} {APT_LOCAL} upgrade", v1),
                (f"apt-get install --reinstall of {v1}", f"{APT} {APT_LOCAL} install --reinstall boardpin", v1),
                (f"dpkg -i of the newer {n2}", f"dpkg -i /var/cache/boot-test/{n2}", None),
                (f"dpkg -i of the same {n2}", f"dpkg -i /var/cache/boot-test/{n2}", None),
        ]
        for what, cmd, want in steps:
                p = sys_.sh(cmd)
                if not B.check(p.returncode == 0, f"{label}: {what}", B.tail(p.stdout)):
                        continue
                got = sys_.sh("dpkg-query -W -f='${Version}' boardpin").stdout.strip()
                want = want or n2.split("_")[1]
                B.check(got == want, f"{label}: {what}: boardpin {want} is installed", f"dpkg-query says '{got}'")
                after = sys_.show("required-consumer.service", "MainPID", "ActiveState", "NRestarts")
                B.figure(f"{label}: consumer MainPID {pid0} before, {after.get('MainPID')} after {what}")
                B.check(after.get("MainPID") == pid0 and after.get("ActiveState") == "active",
                        f"{label}: {what}: the consumer kept its PID", f"before {pid0}, after {after}; "
                        f"journal: {sys_.sh('journalctl -b -q -n 15 -u required-consumer.service -u boardpin.service').stdout}")
                bp = sys_.show("boardpin.service", "ActiveState")
                B.check(bp.get("ActiveState") == "active", f"{label}: {what}: boardpin.service is still active", f"{bp}")
        now = sys_.show("boardpin-upgrade.service", "InvocationID", "ActiveState", "ControlPID")
        B.check(now.get("InvocationID") == held.get("InvocationID") and now.get("ActiveState") == "activating",
                f"{label}: the running boardpin-upgrade.service was not stopped by the package upgrades",
                f"before {held}, after {now}")
        B.figure(f"{label}: boardpin-upgrade.service ControlPID {held.get('ControlPID')} before, "
                 f"{now.get('ControlPID')} after the four steps")
        sys_.sh("systemctl stop boardpin-upgrade.service")


def purge_only_ours(sys_, root, label):
        ours = []
        for d, names in ((STATE, ["lock.json"]), (ENV, ["web.env", "images.env"]),
                         (f"{QUADLET}/web.container.d", ["boardpin.conf"])):
                ours += [f"{d}/{n}" for n in names]
        missing = [f for f in ours if not os.path.exists(root.path(f))]
        B.check(not missing, f"{label}: boardpin wrote its files under {SRV} before the purge", f"missing: {missing}")
        p = sys_.sh(f"{APT} purge boardpin")
        if not B.check(p.returncode == 0, f"{label}: apt-get purge boardpin in the running system", B.tail(p.stdout)):
                return
        left = [f for f in ours + [STATE, f"{QUADLET}/web.container.d", "/var/lib/boardpin",
                                   "/var/lib/boardpin/written-files"] if os.path.lexists(root.path(f))]
        B.check(not left, f"{label}: purge removed what boardpin wrote and the directories it made", f"left: {left}")
        kept = [f for f in (FOREIGN_DROPIN, FOREIGN_ENV, ENV, QUADLET, SRV) if os.path.lexists(root.path(f))]
        B.check(len(kept) == 5, f"{label}: purge left the hand-written drop-in without boardpin's header, the "
                f"unrelated file in env_dir and the directories that were there before",
                f"left only {kept}; {B.tail(p.stdout)}")
