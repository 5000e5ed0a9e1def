"""`make`'s set-up step changes nothing the second time."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_second_setup_run_is_a_no_op():
    run = [sys.executable, str(ROOT / "tools" / "setup_toolchain.py")]
    subprocess.run(run, check=True, capture_output=True, cwd=ROOT)
    second = subprocess.run(run, check=True, capture_output=True, text=True, cwd=ROOT)
    assert second.stdout == ""
