"""An IPTV platform simulator: a customer population and its session logs, deterministic by seed.

Viewing follows a daily curve with an evening peak and more viewing at weekends; each customer has 1-4
devices, and a device plays one session at a time. Most sessions watch channels included in the plan
(meter empty); some watch premium channels billed per minute, some stream from the cloud DVR billed per MB,
a few rent a VOD title. Injected on top, with their counts in a ground-truth manifest: duplicate sessions,
overlaps beyond the plan's stream limit, clock-skewed devices (timestamps in the future), malformed lines,
and a replayed file.

Vectorized (numpy, polars): a million records take seconds. `streamledger simulate` is the command line.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
from eth_account import Account as EthAccount
from web3 import Web3

DAY = 86_400
# Share of viewing by hour of day (UTC as local time): low overnight, a lunchtime bump, the evening peak.
HOURLY = np.array([2, 1, 1, 1, 1, 1, 2, 3, 3, 3, 3, 4, 5, 4, 4, 4, 5, 7, 10, 13, 14, 12, 8, 4], dtype=float)
HOURLY /= HOURLY.sum()
PLAN_STREAMS = {"basic": 2, "premium": 4}
BAD_UTF8 = "@@BADUTF8@@"
CORRUPTIONS = ("bad address", "missing session", "bad start", "negative bytes", "bad utf8", "short line")


@dataclass
class Customer:
    address: str
    key: str  # hex private key: the demo onboards these wallets; never a real customer's
    plan: str
    add_on: bool
    devices: int
    appetite: float  # mean sessions per device per weekday


@dataclass
class Population:
    seed: int
    customers: list[Customer]

    @property
    def addresses(self) -> list[str]:
        return [c.address for c in self.customers]


@dataclass
class Truth:
    """What was injected, for checking the feeder's reports."""

    records: int = 0
    duplicates: int = 0
    overlaps: int = 0
    skewed: int = 0
    malformed: int = 0
    files: list[str] = field(default_factory=list)
    replayed: str | None = None


def make_population(n: int, seed: int, premium_share: float = 0.3, add_on_share: float = 0.2) -> Population:
    rng = np.random.default_rng(seed)
    customers = []
    for i in range(n):
        key = Web3.keccak(text=f"streamledger simulator {seed} customer {i}")
        plan = "premium" if rng.random() < premium_share else "basic"
        devices = int(rng.integers(1, PLAN_STREAMS[plan] + 1))
        customers.append(
            Customer(
                address=EthAccount.from_key(key).address,
                key=key.hex(),
                plan=plan,
                add_on=bool(rng.random() < add_on_share),
                devices=devices,
                appetite=float(rng.gamma(2.0, 0.8)),
            )
        )
    return Population(seed, customers)


def simulate(
    population: Population,
    start: int,
    days: int,
    seed: int,
    premium_share: float = 0.12,
    dvr_share: float = 0.06,
    vod_share: float = 0.01,
    fraud: float = 0.002,
    malformed: float = 0.001,
    skewed_devices: int = 1,
    vod_titles: tuple[str, ...] = ("the_long_night",),
    now: int | None = None,
) -> tuple[pl.DataFrame, Truth]:
    """Sessions of `population` from `start` (UTC midnight) for `days`, as a table of string columns in the
    feeder's record format, with malformed rows and fraud injected at the given rates."""
    rng = np.random.default_rng(seed)
    customers = population.customers
    n = len(customers)
    devices = np.array([c.devices for c in customers])
    appetite = np.array([c.appetite for c in customers])
    # one row per (customer, device)
    dev_customer = np.repeat(np.arange(n), devices)
    dev_index = np.concatenate([np.arange(d) for d in devices]) if n else np.array([], dtype=int)
    day_index = np.arange(days)
    weekday = (((start // DAY) + day_index) + 3) % 7  # 1970-01-01 was a Thursday: 0 = Monday
    day_factor = np.where(weekday >= 5, 1.6, 1.0)
    lam = appetite[dev_customer][:, None] * day_factor[None, :]
    counts = rng.poisson(lam)
    dev_rows, day_cols = np.nonzero(counts)
    reps = counts[dev_rows, day_cols]
    dev = np.repeat(dev_rows, reps)
    day = np.repeat(day_cols, reps)
    total = len(dev)
    hour = rng.choice(24, size=total, p=HOURLY)
    begin = start + day * DAY + hour * 3600 + rng.integers(0, 3600, size=total)
    duration = np.clip(rng.lognormal(np.log(35 * 60), 0.9, size=total), 30, 6 * 3600).astype(np.int64)
    kind = rng.choice(4, size=total, p=[1 - premium_share - dvr_share - vod_share, premium_share, dvr_share, vod_share])
    bitrate = rng.integers(3_000_000, 8_000_000, size=total)  # bits per second

    df = pl.DataFrame(
        {
            "dev": dev,
            "customer_ix": dev_customer[dev],
            "device_ix": dev_index[dev],
            "start": begin.astype(np.int64),
            "duration": duration,
            "kind": kind,
            "bitrate": bitrate,
        }
    ).sort("dev", "start")
    # a device plays one session at a time: each session ends at least a minute before the next begins
    df = df.with_columns(pl.col("start").shift(-1).over("dev").alias("_next"))
    df = df.with_columns(
        pl.min_horizontal(pl.col("start") + pl.col("duration"), pl.col("_next").fill_null(2**40) - 60).alias("end")
    ).filter(pl.col("end") > pl.col("start") + 10)
    address = np.array([c.address for c in customers])
    title = np.array(list(vod_titles) or ["none"])
    df = df.with_columns(
        pl.Series("customer", address[df["customer_ix"].to_numpy()]),
        pl.concat_str(
            [pl.lit("dev-"), pl.col("customer_ix").cast(pl.String), pl.lit("-"), pl.col("device_ix").cast(pl.String)]
        ).alias("device_id"),
        pl.when(pl.col("kind") == 0)
        .then(pl.concat_str([pl.lit("ch-"), (pl.col("dev") % 120 + 1).cast(pl.String)]))
        .when(pl.col("kind") == 1)
        .then(pl.concat_str([pl.lit("prem-"), (pl.col("dev") % 8 + 1).cast(pl.String)]))
        .when(pl.col("kind") == 2)
        .then(pl.lit("dvr"))
        .otherwise(pl.lit("vod"))
        .alias("content_id"),
        pl.when(pl.col("kind") == 1)
        .then(pl.lit("premium_minutes"))
        .when(pl.col("kind") == 2)
        .then(pl.lit("gb_delivered"))
        .when(pl.col("kind") == 3)
        .then(pl.lit("rental:" + title[0]))
        .otherwise(pl.lit(""))
        .alias("meter"),
        ((pl.col("end") - pl.col("start")) * pl.col("bitrate") // 8).alias("bytes"),
    )
    df = df.with_row_index("n").with_columns(
        pl.format("{}-{}", pl.lit(f"{population.seed:x}{seed:x}"), pl.col("n")).alias("session_id")
    )
    truth = Truth()
    table = df.select(
        "session_id",
        "customer",
        "device_id",
        "content_id",
        "meter",
        pl.col("start").cast(pl.String),
        pl.col("end").cast(pl.String),
        pl.col("bytes").cast(pl.String),
    )
    table, truth = _inject(table, df, rng, fraud, malformed, skewed_devices, now, truth, population)
    truth.records = table.height
    return table, truth


def _inject(table, df, rng, fraud, malformed, skewed_devices, now, truth, population):
    rows = table.height
    if rows == 0:
        return table, truth
    extra = []
    # duplicates: the same record twice (at least one of each kind when there is any fraud at all)
    k = max(1, int(rows * fraud / 2)) if fraud else 0
    if k:
        extra.append(table[rng.choice(rows, size=k, replace=False)])
        truth.duplicates = k
    # impossible overlaps: for chosen sessions, enough parallel streams on phantom devices to pass the limit
    k = max(1, int(rows * fraud / 2)) if fraud else 0
    if k:
        picks = df[rng.choice(rows, size=k, replace=False)]
        streams = {c.address: 4 if c.plan == "premium" else 2 for c in population.customers}
        phantoms = []
        for r in picks.iter_rows(named=True):
            for j in range(streams[r["customer"]]):
                phantoms.append(
                    (
                        f"{r['session_id']}-x{j}",
                        r["customer"],
                        f"phantom-{r['session_id']}-{j}",
                        r["content_id"],
                        r["meter"],
                        str(r["start"] + 5),
                        str(r["end"] - 5),
                        "0",
                    )
                )
        extra.append(pl.DataFrame(phantoms, schema=table.schema, orient="row"))
        truth.overlaps = k  # sessions taken over their plan's limit: at least one flagged record each
    if extra:
        table = pl.concat([table, *extra])
    # clock-skewed devices: their clocks run days ahead
    if skewed_devices and now is not None:
        skewed = (
            df["device_id"]
            .unique()
            .sort()
            .sample(n=min(skewed_devices, df["device_id"].n_unique()), seed=int(rng.integers(2**31)))
        )
        mask = table["device_id"].is_in(skewed.implode())
        offset = pl.lit(int(now + 7 * DAY - df["start"].min()))
        table = table.with_columns(
            pl.when(mask).then((pl.col("start").cast(pl.Int64) + offset).cast(pl.String)).otherwise(pl.col("start")),
            pl.when(mask).then((pl.col("end").cast(pl.Int64) + offset).cast(pl.String)).otherwise(pl.col("end")),
        )
        truth.skewed = int(mask.sum())
    # malformed lines
    k = max(1, int(table.height * malformed)) if malformed else 0
    if k:
        idx = rng.choice(table.height, size=k, replace=False)
        how = rng.choice(len(CORRUPTIONS), size=k)
        cols = {c: table[c].to_list() for c in table.columns}
        for i, h in zip(idx, how, strict=True):
            match CORRUPTIONS[h]:
                case "bad address":
                    cols["customer"][i] = "0xNOT-AN-ADDRESS"
                case "missing session":
                    cols["session_id"][i] = ""
                case "bad start":
                    cols["start"][i] = "yesterday"
                case "negative bytes":
                    cols["bytes"][i] = "-42"
                case "bad utf8":
                    cols["device_id"][i] = BAD_UTF8
                case "short line":
                    for c in ("content_id", "meter", "start", "end", "bytes"):
                        cols[c][i] = None
        table = pl.DataFrame(cols, schema=table.schema)
        truth.malformed = k
    return table.sample(fraction=1.0, shuffle=True, seed=int(rng.integers(2**31))), truth


def write_csv(table: pl.DataFrame, path: Path) -> Path:
    """The table as the platform's CSV log (invalid UTF-8 injected where the simulator marked it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = table.write_csv().encode()
    path.write_bytes(data.replace(BAD_UTF8.encode(), b"dev-\xff\xfe"))
    return path


def write_days(
    table: pl.DataFrame, folder: Path, start: int, days: int, truth: Truth, replay: bool = True
) -> list[Path]:
    """One file per day (by session start; skewed and malformed rows stay with the day they came from when
    it can be told, else the first), plus a replayed copy of the first file under another name."""
    folder.mkdir(parents=True, exist_ok=True)
    day_of = ((pl.col("start").cast(pl.Int64, strict=False) - start) // DAY).clip(0, days - 1).fill_null(0)
    table = table.with_columns(day_of.alias("_day"))
    paths = []
    for d in range(days):
        part = table.filter(pl.col("_day") == d).drop("_day")
        paths.append(write_csv(part, folder / f"sessions-{d + 1:02d}.csv"))
    truth.files = [p.name for p in paths]
    if replay and paths:
        copy = folder / f"sessions-{days + 1:02d}-resent.csv"
        copy.write_bytes(paths[0].read_bytes())
        truth.replayed = copy.name
        paths.append(copy)
    (folder / "truth.json").write_text(json.dumps(asdict(truth), indent=2))
    return paths
