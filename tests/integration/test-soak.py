#!/usr/bin/python3
"""test-soak.py BOARDPIN WORKDIR ROOTS: 30 cycles of tests/soak/soak.py (`make soak` runs 365): a tag
moved every cycle and pulled by the real podman into a small store, broken releases rolled back, the
registry out of reach, the store full, a kill in the middle, releases signed (classic and bundle) and one
unsigned, notifications to a webhook receiver and a metrics file; at the end the store, the lock, temp
files, processes, the rollbacks notified and the metrics are checked, and the figures printed. Ends with 'N passed, N failed'."""
import os, sys

import harness

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "soak"))
import soak  # noqa: E402

bp, work, roots, _ = harness.args()
checks, fig = soak.run(bp, work, roots, 30)
soak.figures(fig)
for name, ok, detail in checks:
    harness.check(name, ok, detail)
harness.done()
