"""`streamledger` command line: the package's services without brownie, on plain web3.py.

    streamledger keeper --rpc URL --deployment deployments/<net>.json [--follow --interval 60]

Signing: $DEPLOYER_KEY, or $DEPLOYER_KEYSTORE (+ $DEPLOYER_PASSWORD or a prompt).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from .chain import Chain, Sender, TransactionFailed
from .deployment import Deployment


def _chain(args: argparse.Namespace) -> Chain:
    return Chain.connect(args.rpc, Sender.from_env())


def cmd_keeper(args: argparse.Namespace) -> int:
    from .keeper import Keeper

    keeper = Keeper(_chain(args), Deployment.load(args.deployment), max_batch=args.batch)
    if args.follow:
        keeper.run_forever(args.interval)
    report = keeper.run_once(progress=sys.stderr.isatty())
    print(report.summary())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streamledger", description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    keeper = sub.add_parser("keeper", help="renew due subscriptions and release escrow")
    keeper.add_argument("--rpc", default=os.environ.get("RPC_URL", "http://127.0.0.1:8545"))
    keeper.add_argument("--deployment", required=True, help="deployments/<network>.json")
    keeper.add_argument("--batch", type=int, default=200, help="customers per renewal transaction")
    keeper.add_argument("--follow", action="store_true", help="keep running")
    keeper.add_argument("--interval", type=float, default=60.0, help="seconds between rounds with --follow")
    keeper.set_defaults(func=cmd_keeper)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    try:
        return args.func(args)
    except TransactionFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (RuntimeError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
