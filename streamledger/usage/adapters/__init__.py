"""Platform adapters: real IPTV platform exports in, the feeder's canonical session records out.

    base       the canonical record, exceptions (quarantined / held), the operator's mappings
               (subscribers, streams, meter policy), device pseudonyms, the runner
    flussonic  Flussonic Media Server play_closed events (event sink, JSON lines)
    xtream     Xtream UI-style user_activity rows (CSV export or MySQL dump; sqldump reads the dump)
    nginx      nginx access logs of HLS segment requests, grouped into sessions (bytes delivered)

`streamledger adapt <source> <input>… --subscribers … --out canonical.csv --quarantine exceptions.csv` writes
a canonical CSV that `streamledger feed run` consumes. docs/platform-adapters.md describes each source, the
mappings and the meter policy.
"""

from __future__ import annotations

from pathlib import Path

from .base import (
    Adapter,
    AdapterConfig,
    AdapterConfigError,
    Entry,
    MeterPolicy,
    Record,
    Report,
    Streams,
    Subscribers,
    load_key,
    run,
)
from .flussonic import FlussonicAdapter
from .nginx import NginxAdapter
from .xtream import XtreamAdapter

ADAPTERS: dict[str, type[Adapter]] = {
    "flussonic": FlussonicAdapter,
    "xtream": XtreamAdapter,
    "nginx": NginxAdapter,
}

__all__ = [
    "ADAPTERS",
    "Adapter",
    "AdapterConfig",
    "AdapterConfigError",
    "Entry",
    "FlussonicAdapter",
    "MeterPolicy",
    "NginxAdapter",
    "Record",
    "Report",
    "Streams",
    "Subscribers",
    "XtreamAdapter",
    "adapt",
    "build_adapter",
]


def build_adapter(
    source: str,
    subscribers: str | Path,
    streams: str | Path | None = None,
    meters: str | Path | None = None,
    key_file: str | Path | None = None,
    namespace: str | None = None,
    **options,
) -> Adapter:
    """An adapter for `source` from the operator's files. The adapter key defaults to `adapter.key` beside the
    subscriber mapping (created on first use). `options` go to the adapter (nginx: segment_seconds,
    idle_gap, token_param, stream_pattern)."""
    if source not in ADAPTERS:
        raise AdapterConfigError(f"unknown source {source!r} (one of {', '.join(ADAPTERS)})")
    key_file = Path(key_file) if key_file else Path(subscribers).parent / "adapter.key"
    config = AdapterConfig(
        subscribers=Subscribers.load(subscribers),
        meters=MeterPolicy.load(meters),
        key=load_key(key_file),
        streams=Streams.load(streams) if streams else None,
        namespace=namespace,
    )
    return ADAPTERS[source](config, **options)


def adapt(
    source: str,
    inputs: list[str | Path],
    out: str | Path,
    quarantine: str | Path,
    subscribers: str | Path,
    **settings,
) -> Report:
    """Reads `inputs` (in order, as one stream) with the `source` adapter; writes the canonical CSV `out` and
    the exceptions file `quarantine`. `settings` as for build_adapter."""
    adapter = build_adapter(source, subscribers, **settings)
    return run(adapter, inputs, out, quarantine)
