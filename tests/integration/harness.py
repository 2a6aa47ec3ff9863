"""harness.py: what the integration scripts share: the variables registry.sh writes to WORKDIR/env."""
import os


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
