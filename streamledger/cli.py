"""`streamledger` command line: the package's services without brownie, on plain web3.py.

    streamledger keeper --deployment deployments/<net>.json [--follow --interval 60]
    streamledger feed run FILE... --deployment deployments/<net>.json [--dry-run]
    streamledger feed follow FOLDER --deployment ... [--interval 30]
    streamledger feed submit --deployment ...                     (batches that became ready)
    streamledger feed export --deployment ... --out FOLDER        (typed data for external signers)
    streamledger feed import BATCH_ID SIGNATURE... --deployment ...
    streamledger reconcile --deployment ... [--journal out/feeder/journal.sqlite] [--logs FILE...]
    streamledger reconcile --deployment ... --audit [--catalogue catalogue/<net>.yaml]
    streamledger statements --deployment ... --period 202611 [--commit]
    streamledger verify-statement STATEMENT.json --rpc URL
    streamledger simulate --customers 1000 --days 7 --seed 1 --out logs/
    streamledger adapt <flussonic|xtream|nginx> INPUT... --subscribers MAP [--streams MAP] [--meters POLICY]
                       --out canonical.csv --quarantine exceptions.csv   (platform exports -> session records)
    streamledger auth serve --deployment ... --streams streams.yaml --keys auth-keys.json [--listen HOST:PORT]
                       (authorization backend for Flussonic and middleware; also auth keygen, auth issue-token)
    streamledger portal --deployment ... [--statements out/statements] [--port 8600]
                       (the customer portal: a local page that works through the customer's own wallet)

Node: --rpc (default $RPC_URL or http://127.0.0.1:8545). Transactions are signed with $DEPLOYER_KEY, or
$DEPLOYER_KEYSTORE (+ $DEPLOYER_PASSWORD or a prompt). Oracle keys: --oracle-keystore (repeat; password in
$ORACLE_PASSWORD), or the development oracle keys on a local chain.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from pathlib import Path

from .chain import Chain, Sender, TransactionFailed, connect_web3
from .deployment import Deployment
from .money import fmt_units


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


def _feeder(args: argparse.Namespace, chain: Chain | None):
    from .usage.service import build_feeder

    options = {"window": args.window, "max_lines": args.max_lines}
    return build_feeder(chain, Deployment.load(args.deployment), args.state, args.oracle_keystore, **options)


def _print_file_report(report) -> None:
    print(
        f"{report.path}: read {report.records:,} = accepted {report.accepted:,} "
        f"(billed {report.billed:,}, included {report.included:,}, flagged {report.flagged:,}) "
        f"+ quarantined {report.quarantined:,}; {report.lines:,} usage lines, {report.rentals:,} rentals, "
        f"{report.batches:,} batches" + ("  [replayed file]" if report.replayed else "")
    )
    for reason, count in sorted(report.flags.items()):
        print(f"    flagged     {count:>8,}  {reason}")
    for reason, count in sorted(report.reasons.items()):
        print(f"    quarantined {count:>8,}  {reason}")


def _submit_summary(result) -> str:
    text = (
        f"batches: {result.settled} settled now ({result.gas:,} gas), {result.already} settled before, "
        f"{result.rejected} rejected, {result.waiting} waiting for signatures"
    )
    if result.not_mined:
        text += f", {result.not_mined} not mined (run again: each is checked on chain before it is sent again)"
    return text


def cmd_feed_run(args: argparse.Namespace) -> int:
    chain = None if args.dry_run and args.offline else _chain(args)
    feeder = _feeder(args, chain)
    for path in args.files:
        report = feeder.process_file(Path(path), dry_run=args.dry_run)
        _print_file_report(report)
        if args.dry_run:
            dep = feeder.deployment
            for cid, amount in sorted(report.charges.items()):
                print(f"    would charge customer #{cid}: {fmt_units(amount, dep.token_decimals, dep.token_symbol)}")
    if args.dry_run:
        print("dry run: nothing written, nothing sent")
        return 0
    result = feeder.submit(progress=sys.stderr.isatty())
    print(_submit_summary(result))
    for error in result.errors:
        print(f"  error: {error}", file=sys.stderr)
    return 1 if result.rejected or result.errors else 0


def cmd_feed_follow(args: argparse.Namespace) -> int:  # pragma: no cover - a service loop
    import time

    feeder = _feeder(args, _chain(args))
    folder = Path(args.folder)
    done: set[str] = set()
    while True:
        for path in sorted(p for p in folder.iterdir() if p.is_file() and p.name not in done):
            if not path.name.endswith((".csv", ".jsonl", ".ndjson", ".csv.gz", ".jsonl.gz")):
                continue
            _print_file_report(feeder.process_file(path))
            done.add(path.name)
        result = feeder.submit()
        if result.settled or result.rejected:
            print(f"batches: {result.settled} settled, {result.rejected} rejected")
        time.sleep(args.interval)


def cmd_feed_submit(args: argparse.Namespace) -> int:
    result = _feeder(args, _chain(args)).submit(progress=sys.stderr.isatty())
    print(_submit_summary(result))
    for error in result.errors:
        print(f"  error: {error}", file=sys.stderr)
    return 1 if result.rejected or result.errors else 0


def cmd_feed_export(args: argparse.Namespace) -> int:
    feeder = _feeder(args, None)
    for path in feeder.export_unsigned(Path(args.out)):
        print(path)
    return 0


def cmd_feed_import(args: argparse.Namespace) -> int:
    feeder = _feeder(args, None)
    count = feeder.import_signatures(args.batch_id, args.signatures, set(feeder.deployment.oracle_signers))
    needed = feeder.deployment.oracle_threshold
    print(f"batch {args.batch_id}: {count} of {needed} signatures" + (" - ready to submit" if count >= needed else ""))
    return 0


def cmd_reconcile(args: argparse.Namespace) -> int:
    import tempfile
    import time

    from .catalogue import load_catalogue
    from .reconcile import Reconciler, lines_from_logs
    from .usage.journal import Journal

    deployment = Deployment.load(args.deployment)

    w3 = connect_web3(args.rpc, timeout=120)
    started = time.monotonic()
    reconciler = Reconciler(w3, deployment, Path(args.state), confirmations=args.confirmations, chunk=args.chunk)
    block = reconciler.sync()
    synced = time.monotonic() - started
    journal = None if args.audit or not args.journal else Journal(args.journal)
    catalogue = load_catalogue(args.catalogue) if args.catalogue else None
    logs_lines = None
    if args.logs and not args.audit:
        with tempfile.TemporaryDirectory() as work:
            chain = Chain(w3, Sender("0x" + "00" * 20))
            logs_lines = lines_from_logs(chain, deployment, [Path(p) for p in args.logs], Path(work), journal)
    report = reconciler.check(journal=journal, catalogue=catalogue, logs_lines=logs_lines)
    report.seconds["sync"] = synced
    report.seconds["total"] = time.monotonic() - started
    report.write(Path(args.out))
    print(report.summary())
    decimals, symbol = deployment.token_decimals, deployment.token_symbol
    for p in report.payouts:
        earned, credited = fmt_units(p.earned, decimals, symbol), fmt_units(p.credited, decimals)
        print(
            f"    provider {p.provider} {p.payee}: earned {earned}, credited {credited}, "
            f"withdrawn {fmt_units(p.withdrawn, decimals)}"
        )
    print(f"reports in {args.out} (block {block})")
    return 0 if report.ok else 1


def _period_bounds(period: int) -> tuple[int, int]:
    from datetime import UTC, datetime

    year, month = divmod(period, 100)
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return int(start.timestamp()), int(end.timestamp())


def cmd_statements(args: argparse.Namespace) -> int:
    import json as _json

    from .reconcile import Reconciler
    from .statements import block_timestamps, build_statements, provider_report, seal, statement_blocks, write_statement

    deployment = Deployment.load(args.deployment)
    w3 = connect_web3(args.rpc, timeout=120)
    start, end = (args.start, args.end) if args.start is not None else _period_bounds(args.period)
    reconciler = Reconciler(w3, deployment, Path(args.state))
    reconciler.sync()
    ledger = reconciler.ledger
    stamps = block_timestamps(w3, statement_blocks(ledger))
    statements = build_statements(
        ledger, args.period, start, end, stamps, deployment.token_decimals, deployment.token_symbol
    )
    root, count = seal(statements, deployment.chain_id, deployment.billing)
    out = Path(args.out) / str(args.period)
    for statement in statements.values():
        write_statement(statement, out)
    now = w3.eth.get_block("latest")["timestamp"]
    (out / "providers.json").write_text(_json.dumps(provider_report(ledger, start, end, stamps, now), indent=2))
    print(f"{len(statements)} statements, {count} lines, root 0x{root.hex()} in {out}")
    if args.commit and count:
        chain = _chain(args)
        billing = chain.billing(deployment.billing)
        receipt = chain.transact(billing.functions.commitStatementRoot(args.period, start, end, root, count))
        print(f"root committed for period {args.period} (tx 0x{bytes(receipt['transactionHash']).hex()})")
    return 0


def cmd_verify_statement(args: argparse.Namespace) -> int:
    from web3 import Web3

    from .statements import verify_statement_file

    results = verify_statement_file(Path(args.statement), Web3(Web3.HTTPProvider(args.rpc)))
    failed = [index for index, ok in results if not ok]
    for index, ok in results:
        print(f"line {index}: {'verified' if ok else 'NOT VERIFIED'}")
    print("statement verified against the chain" if not failed else f"{len(failed)} line(s) do not verify")
    return 1 if failed or not results else 0


def cmd_simulate(args: argparse.Namespace) -> int:
    import json as _json
    import time

    from .simulator import make_population, simulate, write_days

    population = make_population(args.customers, args.seed)
    now = int(time.time()) if args.now is None else args.now
    start = (now // 86_400 - args.days) * 86_400 if args.start is None else args.start
    table, truth = simulate(
        population, start, args.days, args.seed + 1, now=now, fraud=args.fraud, malformed=args.malformed
    )
    paths = write_days(table, Path(args.out), start, args.days, truth, replay=not args.no_replay)
    customers = [
        {"address": c.address, "plan": c.plan, "add_on": c.add_on, "devices": c.devices} for c in population.customers
    ]
    (Path(args.out) / "customers.json").write_text(_json.dumps(customers, indent=2))
    print(
        f"{truth.records:,} records in {len(paths)} files under {args.out} "
        f"(duplicates {truth.duplicates}, overlaps {truth.overlaps}, skewed {truth.skewed}, "
        f"malformed {truth.malformed}, replayed {truth.replayed})"
    )
    return 0


def cmd_adapt(args: argparse.Namespace) -> int:
    from .usage.adapters import adapt

    options = {}
    if args.source == "nginx":
        options = {"segment_seconds": args.segment_seconds, "idle_gap": args.idle_gap, "token_param": args.token_param}
        if args.stream_pattern:
            options["stream_pattern"] = args.stream_pattern
    report = adapt(
        args.source,
        args.inputs,
        args.out,
        args.quarantine,
        args.subscribers,
        streams=args.streams,
        meters=args.meters,
        key_file=args.key_file,
        namespace=args.namespace,
        **options,
    )
    print(report.summary())
    print(f"canonical records in {args.out}, quarantined and held in {args.quarantine}")
    return 0


def cmd_receive_events(args: argparse.Namespace) -> int:  # pragma: no cover - a service loop
    from .usage.adapters.sink import make_server

    server = make_server(Path(args.dir), args.host, args.port)
    print(f"receiving Flussonic events on http://{args.host}:{args.port}/ into {args.dir}")
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


def cmd_portal(args: argparse.Namespace) -> int:  # pragma: no cover - a service loop
    from .portal import PortalError, PortalServer

    try:
        server = PortalServer(Path(args.deployment), args.statements and Path(args.statements), args.host, args.port)
    except PortalError as exc:
        raise RuntimeError(str(exc)) from exc
    print(f"customer portal on {server.url} (open it in a browser with a wallet; Ctrl-C stops it)")
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
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

    feed = sub.add_parser("feed", help="usage feeder: session logs to signed, charged usage batches")
    feed_sub = feed.add_subparsers(dest="feed_command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--rpc", default=os.environ.get("RPC_URL", "http://127.0.0.1:8545"))
        p.add_argument("--deployment", required=True, help="deployments/<network>.json")
        p.add_argument("--state", default="out/feeder", help="journal and reports folder (default out/feeder)")
        p.add_argument("--oracle-keystore", action="append", help="encrypted oracle key (repeatable)")
        p.add_argument("--window", type=int, default=86_400, help="usage window in seconds (default a day)")
        p.add_argument("--max-lines", type=int, default=400, help="lines per batch transaction")

    run = feed_sub.add_parser("run", help="process log files once and submit")
    common(run)
    run.add_argument("files", nargs="+")
    run.add_argument("--dry-run", action="store_true", help="show what would be charged; write and send nothing")
    run.add_argument("--offline", action="store_true", help="with --dry-run: do not contact the node")
    run.set_defaults(func=cmd_feed_run)
    follow = feed_sub.add_parser("follow", help="process new log files in a folder as they arrive")
    common(follow)
    follow.add_argument("folder")
    follow.add_argument("--interval", type=float, default=30.0)
    follow.set_defaults(func=cmd_feed_follow)
    submit = feed_sub.add_parser("submit", help="submit the journal's batches that are ready")
    common(submit)
    submit.set_defaults(func=cmd_feed_submit)
    export = feed_sub.add_parser("export", help="write batches awaiting signatures as eth_signTypedData_v4 JSON")
    common(export)
    export.add_argument("--out", required=True)
    export.set_defaults(func=cmd_feed_export)
    imp = feed_sub.add_parser("import", help="add signatures made elsewhere to a batch")
    common(imp)
    imp.add_argument("batch_id", type=int)
    imp.add_argument("signatures", nargs="+", help="0x-prefixed 65-byte signatures (as cast wallet sign prints)")
    imp.set_defaults(func=cmd_feed_import)

    rec = sub.add_parser("reconcile", help="rebuild every ledger from events and report discrepancies")
    rec.add_argument("--rpc", default=os.environ.get("RPC_URL", "http://127.0.0.1:8545"))
    rec.add_argument("--deployment", required=True)
    rec.add_argument("--state", default="out/reconcile/state", help="checkpoint folder: runs resume from it")
    rec.add_argument("--out", default="out/reconcile", help="discrepancies.csv, payouts.csv, reconciliation.json")
    rec.add_argument("--journal", help="the feeder's journal.sqlite (full mode)")
    rec.add_argument("--logs", nargs="*", help="raw session logs to recompute usage from")
    rec.add_argument("--catalogue", help="the public catalogue file: expected splits (audit mode)")
    rec.add_argument("--audit", action="store_true", help="chain data and the public catalogue only")
    rec.add_argument("--confirmations", type=int, default=0, help="ignore the newest N blocks")
    rec.add_argument("--chunk", type=int, default=5_000, help="blocks per eth_getLogs request")
    rec.set_defaults(func=cmd_reconcile)

    st = sub.add_parser("statements", help="customer statements for a period, with a committed Merkle root")
    st.add_argument("--rpc", default=os.environ.get("RPC_URL", "http://127.0.0.1:8545"))
    st.add_argument("--deployment", required=True)
    st.add_argument("--period", type=int, required=True, help="YYYYMM (the calendar month, UTC)")
    st.add_argument("--start", type=int, help="period start (unix seconds), instead of the calendar month")
    st.add_argument("--end", type=int, help="period end (unix seconds, exclusive)")
    st.add_argument("--state", default="out/reconcile/state", help="the ledger checkpoint (shared with reconcile)")
    st.add_argument("--out", default="out/statements")
    st.add_argument("--commit", action="store_true", help="commit the root on-chain (operator key)")
    st.set_defaults(func=cmd_statements)

    vs = sub.add_parser("verify-statement", help="check a statement file against the chain")
    vs.add_argument("statement")
    vs.add_argument("--rpc", default=os.environ.get("RPC_URL", "http://127.0.0.1:8545"))
    vs.set_defaults(func=cmd_verify_statement)

    sim = sub.add_parser("simulate", help="generate IPTV platform session logs (deterministic by seed)")
    sim.add_argument("--customers", type=int, default=1_000)
    sim.add_argument("--days", type=int, default=7)
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--start", type=int, help="first day (unix seconds, UTC midnight); default: days before now")
    sim.add_argument("--now", type=int, help="the platform's clock (skewed devices run ahead of it)")
    sim.add_argument("--fraud", type=float, default=0.002, help="share of injected duplicates and overlaps")
    sim.add_argument("--malformed", type=float, default=0.001, help="share of malformed lines")
    sim.add_argument("--no-replay", action="store_true", help="do not add a resent copy of the first file")
    sim.add_argument("--out", default="out/logs")
    sim.set_defaults(func=cmd_simulate)

    ad = sub.add_parser("adapt", help="platform exports (Flussonic, Xtream UI, nginx) to canonical session records")
    ad.add_argument("source", choices=("flussonic", "xtream", "nginx"))
    ad.add_argument("inputs", nargs="+", help="export files, read in order as one stream (.gz too)")
    ad.add_argument("--subscribers", required=True, help="platform user id / token -> customer address (CSV, JSON)")
    ad.add_argument("--streams", help="stream id or name -> type and content id (CSV, JSON; needed for xtream)")
    ad.add_argument("--meters", help="meter policy (YAML, JSON): which meter each kind of play bills")
    ad.add_argument("--key-file", help="adapter key for device pseudonyms (default: adapter.key beside --subscribers)")
    ad.add_argument("--namespace", help="session id prefix (default: the source name); one per platform instance")
    ad.add_argument("--out", required=True, help="the canonical CSV to write (.csv or .csv.gz)")
    ad.add_argument("--quarantine", required=True, help="the exceptions CSV: quarantined and held records")
    ad.add_argument("--segment-seconds", type=float, default=6.0, help="nginx: segment length (default 6)")
    ad.add_argument("--idle-gap", type=float, help="nginx: seconds without a request that end a session (3 segments)")
    ad.add_argument("--token-param", default="token", help="nginx: the query parameter holding the token")
    ad.add_argument("--stream-pattern", help="nginx: regex over the request path with a (?P<stream>...) group")
    ad.set_defaults(func=cmd_adapt)

    sink = sub.add_parser("receive-events", help="HTTP event sink for Flussonic: POSTed events to hourly JSONL files")
    sink.add_argument(
        "--dir", required=True, help="folder of events-YYYYMMDDHH.jsonl files (adapt flussonic reads them)"
    )
    sink.add_argument("--host", default="127.0.0.1")
    sink.add_argument("--port", type=int, default=8089)
    sink.set_defaults(func=cmd_receive_events)

    portal = sub.add_parser("portal", help="serve the customer portal page (docs/portal.md)")
    portal.add_argument("--deployment", required=True, help="deployments/<network>.json")
    portal.add_argument("--statements", help="folder of published statement files (`streamledger statements`)")
    portal.add_argument("--host", default="127.0.0.1")
    portal.add_argument("--port", type=int, default=8600)
    portal.set_defaults(func=cmd_portal)

    from .auth.commands import add_parser as add_auth_parser

    add_auth_parser(sub)  # streamledger auth serve | keygen | issue-token (docs/auth-backend.md)
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
