"""The `mmm` binary for the study scripts (scripts/*_study.py): where it is, and one call.

MMM (environment) names the binary, default $CARGO_TARGET_DIR/release/mmm, else
target/release/mmm under the repository root.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def binary() -> str:
    if os.environ.get("MMM"):
        return os.environ["MMM"]
    target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    return str(Path(target) / "release" / "mmm")


def mmm(*args: str) -> str:
    """Run `mmm -q ARGS`; returns its stdout. Exit 0 or 3 (a diagnostic gate failed: results
    still written and marked) is success; anything else ends the study with mmm's stderr."""
    done = subprocess.run([binary(), "-q", *args], capture_output=True, text=True)
    if done.returncode not in (0, 3):
        sys.exit(f"mmm {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done.stdout
