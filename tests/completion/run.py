#!/usr/bin/env python3
"""run.py BOARDPIN [SCRIPT]: the bash completion (SCRIPT, default etc/bash-completion/boardpin) in a real
bash with Debian's bash-completion loaded, as a shell on the board has it. Each case is a command line
cut into COMP_WORDS as readline cuts it ('=' is a word of its own), and checks the words offered:

  commands, each command's options  against what BOARDPIN --help says, not against a list kept here
  services                          from a temporary config named by -c, --config FILE, --config=FILE, -cFILE,
                                    -qc FILE
  the default config                /etc/boardpin/boardpin.ini: when absent, nothing and no noise
  options after a service, '--', report's single operand, --platform, --machine, files after -c and --root
  bash-completion's own loader      finds the script in a completions/ directory and registers _boardpin
  shellcheck                        has nothing to say about the script

Nothing on stderr is allowed. bash-completion missing is a failure, not a skip. BP_BASH_COMPLETION names
another bash_completion to run in (trixie's 2.16 renamed the helpers the script calls). Ends with
'N passed, N failed'."""
import os, re, shlex, subprocess, sys, tempfile

here = os.path.dirname(os.path.abspath(__file__))
bp = sys.argv[1]
script = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "../../etc/bash-completion/boardpin"))
library = os.environ.get("BP_BASH_COMPLETION", "/usr/share/bash-completion/bash_completion")
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name}{': ' + detail if detail else ''}")


def finish():
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


def comp_words(line):
    """COMP_WORDS as bash makes them for the line with the cursor at its end: blanks separate words,
    and each '=' (in COMP_WORDBREAKS) is a word of its own; a line ending in a blank has an empty last word."""
    words = []
    for w in line.split():
        words += [p for p in re.split(r"(=)", w) if p != ""]
    if line.endswith(" "):
        words.append("")
    return words


def complete(line, cwd=None):
    """(sorted words offered, stderr) for the line."""
    words = comp_words(line)
    prog = (
        f"source {shlex.quote(library)} || exit 97\n"
        f"source {shlex.quote(script)} || exit 98\n"
        f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)})\n"
        f"COMP_CWORD={len(words) - 1}\n"
        f"COMP_LINE={shlex.quote(line)}\n"
        f"COMP_POINT=${{#COMP_LINE}}\n"
        f'_boardpin boardpin "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"\n'
        f'(( ${{#COMPREPLY[@]}} )) && printf "%s\\n" "${{COMPREPLY[@]}}"\n'
        "exit 0\n"
    )
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", prog], capture_output=True, text=True, cwd=cwd,
                       env={**os.environ, "HOME": cwd or os.environ.get("HOME", "/")})
    if r.returncode:
        return None, f"bash exited {r.returncode}: {r.stderr.strip()}"
    return sorted(r.stdout.split("\n")[:-1]), r.stderr


def expect(name, line, want, cwd=None):
    got, err = complete(line, cwd)
    want = sorted(want)
    check(f"{name}: '{line}'", got == want and err == "", f"got {got}, want {want}" + (f", stderr {err!r}" if err else ""))


if not os.path.exists(library):
    check(f"bash-completion at {library}", False, "not installed (apt-get install bash-completion: make deps)")
    finish()

# What the binary accepts, from its own help text: the global options, then each command with its own.
help_text = subprocess.run([bp, "--help"], capture_output=True, text=True, check=True).stdout
globals_, commands, current = [], {}, None
section = None
for ln in help_text.splitlines():
    if ln.startswith("Options of every command"):
        section = "global"
    elif ln.startswith("Commands and their own options"):
        section = "commands"
    elif section == "global" and ln.lstrip().startswith("-"):
        globals_ += re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", ln.strip().split("   ")[0])
    elif section == "commands" and (m := re.match(r"^  ([a-z]+)\s", ln)):
        current = commands.setdefault(m.group(1), [])
    elif section == "commands" and current is not None and (m := re.match(r"^      (--[a-z][\w-]*)", ln)):
        current.append(m.group(1))
check("boardpin --help names commands and global options", len(commands) >= 7 and "--config" in globals_,
      f"commands {sorted(commands)}, globals {globals_}")
every = set.intersection(*(set(o) for o in commands.values())) if commands else set()

expect("the commands", "boardpin ", commands)
expect("the commands after global options", "boardpin -q --platform linux/arm/v6 ", commands)
expect("a command by prefix", "boardpin re", [c for c in commands if c.startswith("re")])
expect("options before the command: the global ones and those of every command", "boardpin -", globals_ + sorted(every))
for c, opts in sorted(commands.items()):
    expect(f"{c}'s options", f"boardpin {c} -", globals_ + opts)
expect("a long option by prefix", "boardpin inspect --ca", ["--ca-file"])

tmp = tempfile.mkdtemp(prefix="bp-completion-")
cfg = os.path.join(tmp, "board.ini")
with open(cfg, "w") as f:
    f.write("[boardpin]\nplatform = auto\n\n[registry 127.0.0.1:5000]\ninsecure = true\n\n"
            "[service vaultwarden]\nimage = vaultwarden/server\n\n"
            "  [ service  pihole ]   ; a comment after the header\n"
            "[service home-assistant]\r\n"          # a CRLF file
            "; [service commented]\n# [service hashed]\n"
            "[service Upper]\n[service two words]\n[servicex nope]\n"
            + "x" * 300 + " [service toolong]\n"    # a line boardpin refuses: no service in it
            + "[service web_1.2]")                   # no newline at the end
services = ["home-assistant", "pihole", "vaultwarden", "web_1.2"]
expect("services from -c FILE", f"boardpin -c {cfg} resolve ", services)
expect("services from --config FILE after the command", f"boardpin upgrade --config {cfg} ", services)
expect("services from --config=FILE", f"boardpin --config={cfg} resolve ", services)
expect("services from -cFILE", f"boardpin -c{cfg} resolve ", services)
expect("services from -qc FILE", f"boardpin -qc {cfg} resolve ", services)
expect("services from -qcFILE", f"boardpin -qc{cfg} resolve ", services)
expect("services by prefix", f"boardpin -c {cfg} resolve p", ["pihole"])
expect("a service given is not offered again", f"boardpin -c {cfg} upgrade pihole ", set(services) - {"pihole"})
expect("report takes one service", f"boardpin -c {cfg} report ", services)
expect("report takes one service: no second", f"boardpin -c {cfg} report pihole ", [])
expect("options after a service", f"boardpin -c {cfg} resolve pihole --d", ["--dry-run"])
expect("services after an option after a service", f"boardpin -c {cfg} upgrade pihole --dry-run --json v",
       ["vaultwarden"])
expect("the last -c counts", f"boardpin -c /nonexistent -c {cfg} report v", ["vaultwarden"])
expect("resolve --allow-bad NAME: the config's services", f"boardpin -c {cfg} resolve --allow-bad ", services)
expect("after --allow-bad NAME, more services", f"boardpin -c {cfg} resolve --allow-bad pihole v", ["vaultwarden"])
expect("after '--' a word with a dash is no option", f"boardpin -c {cfg} resolve -- -", [])
for c in sorted(set(commands) - {"resolve", "upgrade", "report"}):
    expect(f"{c} takes no service", f"boardpin -c {cfg} {c} ", [])

# Missing or unreadable configurations: nothing offered, nothing said.
expect("a missing -c file", "boardpin -c /nonexistent/boardpin.ini resolve ", [])
expect("a directory as -c", f"boardpin -c {tmp} resolve ", [])
big = os.path.join(tmp, "big.ini")
with open(big, "w") as f:
    f.write("[service first]\n" + ";\n" * 40000 + "[service past_64k]\n")
expect("a file past 64 KiB is read no further", f"boardpin -c {big} resolve ", ["first"])
default = "/etc/boardpin/boardpin.ini"
if os.path.exists(default):
    try:
        with open(default, errors="replace") as f:
            want = re.findall(r"^[ \t]*\[[ \t]*service[ \t]+([a-z0-9][a-z0-9_.-]*)[ \t]*\]", f.read(), re.M)
    except OSError:
        want = []
    expect(f"services from {default} (present here)", "boardpin resolve ", want)
else:
    expect(f"{default} absent: no services, quietly", "boardpin resolve ", [])

expect("--platform", "boardpin --platform ",
       ["linux/amd64", "linux/arm64", "linux/arm/v7", "linux/arm/v6", "linux/arm/v5", "linux/386"])
expect("--platform by prefix", "boardpin detect --platform linux/arm/", ["linux/arm/v7", "linux/arm/v6", "linux/arm/v5"])
expect("--platform=", "boardpin --platform=linux/arm6", ["linux/arm64"])
expect("--machine", "boardpin --machine armv", ["armv8l", "armv7l", "armv6l", "armv5tel"])
expect("--timeout takes a number: nothing offered", "boardpin inspect --timeout ", [])

# Files: any after -c, --auth-file, --ca-file and --verify; directories only after --root.
os.makedirs(os.path.join(tmp, "files", "rootdir"))
open(os.path.join(tmp, "files", "boardpin.ini"), "w").close()
expect("files after -c", "boardpin -c files/", ["files/boardpin.ini", "files/rootdir"], cwd=tmp)
expect("files after --ca-file", "boardpin inspect --ca-file files/b", ["files/boardpin.ini"], cwd=tmp)
expect("files after --verify", "boardpin inspect --verify files/b", ["files/boardpin.ini"], cwd=tmp)
expect("directories only after --root", "boardpin --root files/", ["files/rootdir"], cwd=tmp)
expect("a ~/ config is the home directory's", "boardpin -c ~/board.ini report p", ["pihole"], cwd=tmp)

# As bash-completion loads it on demand: from a completions/ directory, inside one of its functions.
os.makedirs(os.path.join(tmp, "user", "completions"))
os.symlink(script, os.path.join(tmp, "user", "completions", "boardpin"))
prog = (f"source {shlex.quote(library)} || exit 97\n"
        "if declare -F _comp_load >/dev/null; then _comp_load boardpin; else __load_completion boardpin; fi\n"
        "complete -p boardpin; declare -p _boardpin_command_options >/dev/null")
r = subprocess.run(["bash", "--norc", "--noprofile", "-c", prog], capture_output=True, text=True,
                   env={**os.environ, "BASH_COMPLETION_USER_DIR": os.path.join(tmp, "user")})
check("bash-completion's loader registers _boardpin, tables and all", r.returncode == 0 and
      r.stdout.strip() == "complete -F _boardpin boardpin" and r.stderr == "", f"rc {r.returncode} {r.stdout!r} {r.stderr!r}")

try:
    r = subprocess.run(["shellcheck", "--shell=bash", script], capture_output=True, text=True)
    check("shellcheck has nothing to say", r.returncode == 0 and r.stdout == "", (r.stdout + r.stderr).strip())
except FileNotFoundError:
    check("shellcheck has nothing to say", False, "no shellcheck (apt-get install shellcheck: make deps)")

subprocess.run(["rm", "-rf", tmp])
finish()
