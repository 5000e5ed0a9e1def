"""`streamledger auth …`: run the authorization backend, make keys, issue device tokens.

    streamledger auth serve --deployment deployments/base.json --streams streams.yaml --keys auth-keys.json \
        [--rpc URL] [--listen 127.0.0.1:8090] [--siwe-domain tv.example.com] [--revocations revoked.txt]
    streamledger auth keygen --out auth-keys.json [--kid k1]
    streamledger auth issue-token --keys auth-keys.json --address 0x… --device living-room-tv [--days 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def build(args: argparse.Namespace):
    """(service, follower, app) from the command line; the follower is not started."""
    from ..chain import connect_web3
    from ..deployment import Deployment
    from .config import StreamMap
    from .follower import Follower
    from .server import App
    from .service import AuthService, Settings
    from .tokens import KeyRing, WalletSignIn

    deployment = Deployment.load(args.deployment)
    streams = StreamMap.load(args.streams)
    keyring = KeyRing.load(args.keys)
    settings = Settings(
        auth_duration=args.auth_duration,
        deny_duration=args.deny_duration,
        item_max_sessions=args.item_max_sessions,
        user_id=args.user_id,
        wallet_token_lifetime=int(args.wallet_token_hours * 3600),
    )
    sign_in = None
    if args.siwe_domain:
        sign_in = WalletSignIn(args.siwe_domain, deployment.chain_id, uri_prefix=args.siwe_uri_prefix)
    service = AuthService(streams, keyring, settings, sign_in, deployment.chain_id, deployment.billing)
    # Short provider retries: the follower has its own backoff loop and keeps serving meanwhile.
    w3 = connect_web3(args.rpc, timeout=10, retries=2, backoff=0.25)
    follower = Follower(
        w3,
        deployment.billing,
        deployment.block,
        service,
        poll_interval=args.poll_interval,
        reorg_depth=args.reorg_depth,
        max_backoff=args.max_backoff,
        revocations=Path(args.revocations) if args.revocations else None,
        on_revocations=service.tokens.set_revoked,
    )
    service.follower = follower
    return service, follower, App(service)


def cmd_serve(args: argparse.Namespace) -> int:
    from .server import install_uvloop, serve

    host, _, port = args.listen.rpartition(":")
    _, follower, app = build(args)
    if not args.no_uvloop:
        install_uvloop()
    follower.start()
    try:
        asyncio.run(serve(app, host or "127.0.0.1", int(port)))
    finally:
        follower.stop()
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    from .tokens import KeyRing

    path = Path(args.out)
    if path.exists():
        print(f"error: {path} exists; keys are never overwritten", file=sys.stderr)
        return 2
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fp:
        json.dump(KeyRing.generate(args.kid), fp, indent=2)
    print(f"token key {args.kid!r} written to {path} (mode 0600); keep it out of the repository")
    return 0


def cmd_issue_token(args: argparse.Namespace) -> int:
    from .tokens import KeyRing, issue_token

    keyring = KeyRing.load(args.keys)
    print(issue_token(keyring, args.address, args.device, int(args.days * 86_400), kid=args.kid))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    auth = sub.add_parser("auth", help="authorization backend for streaming servers (Flussonic, JSON API)")
    auth_sub = auth.add_subparsers(dest="auth_command", required=True)

    serve = auth_sub.add_parser("serve", help="run the authorization backend")
    serve.add_argument("--rpc", default=os.environ.get("RPC_URL", "http://127.0.0.1:8545"))
    serve.add_argument("--deployment", required=True, help="deployments/<network>.json")
    serve.add_argument("--streams", required=True, help="stream map (YAML): stream name -> package ids")
    serve.add_argument("--keys", help="token key file (default: $STREAMLEDGER_AUTH_KEYS)")
    serve.add_argument("--listen", default="127.0.0.1:8090", help="host:port (default 127.0.0.1:8090)")
    serve.add_argument("--poll-interval", type=float, default=0.5, help="seconds between head polls (0.5)")
    serve.add_argument("--reorg-depth", type=int, default=64, help="blocks of hashes kept for reorgs (64)")
    serve.add_argument("--max-backoff", type=float, default=10.0, help="longest wait between retries (10 s)")
    serve.add_argument("--auth-duration", type=int, default=60, help="X-AuthDuration cap for a 200 (60 s)")
    serve.add_argument("--deny-duration", type=int, default=10, help="X-AuthDuration sent with a 403 (10 s)")
    serve.add_argument("--item-max-sessions", type=int, default=1, help="X-Max-Sessions for PPV/VOD-only access")
    serve.add_argument("--user-id", choices=("customer_id", "address"), default="customer_id", help="X-UserId value")
    serve.add_argument("--revocations", help="file of revoked device ids and addresses, one a line (re-read)")
    serve.add_argument("--siwe-domain", help="enable wallet sign-in (EIP-4361) for this domain")
    serve.add_argument("--siwe-uri-prefix", help="sign-in messages' URI must start with this")
    serve.add_argument("--wallet-token-hours", type=float, default=12.0, help="lifetime of sign-in tokens (12)")
    serve.add_argument("--no-uvloop", action="store_true", help="the standard asyncio loop instead of uvloop")
    serve.set_defaults(func=cmd_serve)

    keygen = auth_sub.add_parser("keygen", help="write a new token key file (mode 0600)")
    keygen.add_argument("--out", required=True)
    keygen.add_argument("--kid", default="k1", help="key id (default k1)")
    keygen.set_defaults(func=cmd_keygen)

    issue = auth_sub.add_parser("issue-token", help="issue a device token bound to a customer address")
    issue.add_argument("--keys", help="token key file (default: $STREAMLEDGER_AUTH_KEYS)")
    issue.add_argument("--address", required=True, help="the customer's address")
    issue.add_argument("--device", required=True, help="the operator's device or app-install id (1-64 bytes)")
    issue.add_argument("--days", type=float, default=30.0, help="lifetime (default 30 days)")
    issue.add_argument("--kid", help="key id to sign with (default: the key file's current one)")
    issue.set_defaults(func=cmd_issue_token)
