"""The usage feeder: IPTV platform session logs in, signed usage batches out, charged exactly once.

    reader     CSV / JSONL session logs -> a table of raw string columns with line numbers
    validate   malformed records -> quarantine (line, reason); the rest typed
    fraud      records that must not be billed -> flagged (reason), reported
    aggregate  billable records -> usage lines per (meter, window, customer); VOD first plays -> rentals
    journal    SQLite: processed files, session ids seen, batches and their on-chain state
    feeder     the pipeline and its submission loop, as a library, a brownie script and a CLI command
    adapters   real platform exports (Flussonic, Xtream UI, nginx) -> canonical session records

The record format is documented in docs/usage-records.md.
"""
