"""Runs the invariant suite (tests/invariant/) with forge and checks that it did enough to mean something.

    python tools/invariants.py              # make test: 80 runs x 200 calls, at least 10,000 transitions
    python tools/invariants.py --deep       # make fuzz-deep: 8,500 runs x 200 calls, at least 1,000,000

Forge calls the handler's actions at random and checks every invariant after each call. A pass alone could
hide a handler whose actions all fail quietly, so after each run the suite appends how many calls changed
state, by kind, to build/forge-invariants/runs.log; this script adds them up and fails when the total is
under the minimum or when a kind of action that matters (renewal charges, usage charges, disputes opened
and refunded, escrow released, ...) never succeeded.

Forge comes from npm (@foundry-rs/forge) and compiles with the project's solc-js shim, offline. The binary
is called directly: the npm wrapper script exits 0 even when tests fail.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORGE = ROOT / "node_modules" / "@foundry-rs" / "forge-linux-amd64" / "bin" / "forge"
RUNS_LOG = ROOT / "build" / "forge-invariants" / "runs.log"
SOLC_VERSION = "0.8.37"

# Kinds of successful calls that must each happen at least once for a run to count.
REQUIRED = (
    "deposit",
    "withdraw",
    "subscribe",
    "cancelNow",
    "changePlan",
    "customer renewed and charged",
    "customer charged for usage",
    "buyPpv",
    "dispute opened",
    "dispute refunded",
    "resolveDispute",
    "escrow released to providers",
    "withdrawEarnings",
    "setPlanPrice",
    "togglePause",
)


def solc_shim() -> Path:
    folder = Path(os.environ.get("SOLCX_BINARY_PATH", Path.home() / ".solcx"))
    shim = folder / f"solc-v{SOLC_VERSION}"
    if not shim.exists():
        sys.exit(f"invariants: {shim} missing; run `make setup`")
    return shim


def tally(path: Path) -> tuple[int, Counter]:
    """Runs and summed counts from the suite's log: `run transitions=N|kind=n|...` per run."""
    runs, counts = 0, Counter()
    for line in path.read_text().splitlines():
        head, *kinds = line.split("|")
        if not head.startswith("run transitions="):
            raise SystemExit(f"invariants: unexpected line in {path}: {line!r}")
        runs += 1
        counts["transitions"] += int(head.split("=", 1)[1])
        for item in kinds:
            kind, _, n = item.rpartition("=")
            counts[kind] += int(n)
    return runs, counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/invariants.py")
    parser.add_argument("--deep", action="store_true", help="the deep profile: at least 1,000,000 transitions")
    parser.add_argument("--min-transitions", type=int, default=None)
    args = parser.parse_args(argv)
    minimum = args.min_transitions or (1_000_000 if args.deep else 10_000)
    if not FORGE.exists():
        sys.exit(f"invariants: {FORGE} missing; run `npm ci`")
    RUNS_LOG.parent.mkdir(parents=True, exist_ok=True)
    RUNS_LOG.unlink(missing_ok=True)
    env = dict(os.environ, FOUNDRY_PROFILE="deep" if args.deep else "default")
    started = time.monotonic()
    command = [str(FORGE), "test", "--use", str(solc_shim()), "--offline", "--root", str(ROOT)]
    result = subprocess.run(command, cwd=ROOT, env=env)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        print(f"invariants: forge failed (exit {result.returncode})", file=sys.stderr)
        return 1
    if not RUNS_LOG.exists():
        print(f"invariants: forge passed but wrote no {RUNS_LOG}: did the suite run?", file=sys.stderr)
        return 1
    runs, counts = tally(RUNS_LOG)
    print(f"invariants: {runs} runs, {counts['transitions']:,} state transitions in {seconds:.0f} s, 0 violations")
    for kind, n in sorted(counts.items()):
        if kind != "transitions":
            print(f"  {n:>9,}  {kind}")
    missing = [k for k in REQUIRED if counts[k] == 0]
    if missing:
        print(f"invariants: these actions never succeeded, the run proves little: {missing}", file=sys.stderr)
        return 1
    if counts["transitions"] < minimum:
        print(f"invariants: {counts['transitions']:,} transitions, fewer than {minimum:,}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
