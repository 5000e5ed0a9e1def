"""Slither static analysis of the StreamLedger contracts, as an offline pass/fail check.

Run from anywhere: `.venv/bin/python tools/slither_check.py`

What it does:
1. Builds one solc standard-JSON input (build/slither/standard-input.json) for every .sol under contracts/
   except contracts/testing/ (test tokens and the benchmark baseline, never deployed with real money), with
   brownie-config.yaml's optimizer, EVM version and remappings, so slither sees the bytecode brownie builds.
2. Runs slither on it through the project's solc-js shim (~/.solcx/solc-v<version>, installed by `make`),
   with every detector and `--show-ignored-findings` (inline `slither-disable` comments hide nothing), in a
   scratch directory on a copy of the input: from inside the project, crytic-compile finds foundry.toml or
   brownie-config.yaml, may swap in another compiler (even try to download one), and dies silently on a
   compile error. Nothing is downloaded; the run takes about 15 s.
3. Drops findings whose every element lies in node_modules (OpenZeppelin's own code). slither's
   --exclude-dependencies does nothing for a standard-JSON target and --filter-paths drops a finding when
   *any* element is in node_modules, which would hide findings in our contracts that touch OpenZeppelin.
4. Compares the rest with the triage file, docs/slither-triage.md (format described there).

It exits non-zero when slither fails, when it analysed no contract of ours, or when any High, Medium or
Low finding is not triaged. Informational and Optimization findings are counted, never fatal. Triage
entries that match nothing are reported as stale. The full slither report (without the compiler output)
is written to build/slither/slither-output.json.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = ROOT / "contracts"
EXCLUDED_DIRS = {"testing"}
TRIAGE_FILE = ROOT / "docs" / "slither-triage.md"
OUT_DIR = ROOT / "build" / "slither"
SLITHER = Path(sys.executable).parent / "slither"

IMPACTS = ("High", "Medium", "Low", "Informational", "Optimization")
MUST_TRIAGE = {"High", "Medium", "Low"}
# Everything crytic-compile reads from the compiler (its own default output selection).
OUTPUT_SELECTION = {
    "*": {
        "*": ["abi", "metadata", "devdoc", "userdoc", "evm.bytecode", "evm.deployedBytecode"],
        "": ["ast"],
    }
}

TRIAGE_SECTION = re.compile(r"^### `([a-z0-9-]+)`")
TRIAGE_LOCATION = re.compile(r"^- `([^`]+)`")


class CheckError(Exception):
    """The check could not run to a verdict (slither failed, bad triage file, nothing analysed)."""


@dataclass(frozen=True)
class Finding:
    detector: str
    impact: str
    location: str
    summary: str


# ----- the standard-JSON input ---------------------------------------------------------------------------


def project_sources() -> list[Path]:
    sources = sorted(
        path for path in CONTRACTS.rglob("*.sol") if not EXCLUDED_DIRS & set(path.relative_to(CONTRACTS).parts)
    )
    if not sources:
        raise CheckError(f"no .sol files under {CONTRACTS}")
    return sources


def brownie_compiler_config() -> dict:
    return yaml.safe_load((ROOT / "brownie-config.yaml").read_text())["compiler"]


def _remapping(entry: str) -> str:
    """brownie's `@openzeppelin=node_modules/@openzeppelin` as solc's `@openzeppelin/=node_modules/@openzeppelin/`."""
    prefix, target = entry.split("=", 1)
    return f"{prefix.rstrip('/')}/={target.rstrip('/')}/"


def standard_json_input(sources: list[Path], compiler: dict) -> dict:
    solc = compiler["solc"]
    return {
        "language": "Solidity",
        "sources": {str(path.relative_to(ROOT)): {"content": path.read_text()} for path in sources},
        "settings": {
            "remappings": [_remapping(entry) for entry in solc.get("remappings", [])],
            "optimizer": {"enabled": bool(solc["optimizer"]["enabled"]), "runs": int(solc["optimizer"]["runs"])},
            "evmVersion": compiler["evm_version"],
            "outputSelection": OUTPUT_SELECTION,
        },
    }


def solc_shim(version: str) -> Path:
    shim = Path(os.environ.get("SOLCX_BINARY_PATH", Path.home() / ".solcx")) / f"solc-v{version}"
    if not shim.is_file():
        raise CheckError(f"solc shim {shim} not found: run `make setup` (tools/setup_toolchain.py) first")
    return shim


# ----- running slither -----------------------------------------------------------------------------------


def _slither_command(input_path: Path, solc: Path) -> list[str]:
    return [
        str(SLITHER),
        str(input_path),
        "--compile-force-framework",
        "solc-json",
        "--solc",
        str(solc),
        "--solc-working-dir",
        str(ROOT),
        "--show-ignored-findings",
        "--fail-none",
        "--disable-color",
        "--json",
        "-",
        "--json-types",
        "detectors,compilations,console",
    ]


def run_slither(standard_input: str, solc: Path) -> dict:
    """Slither's JSON report. Runs in a scratch directory on a copy of the input kept there: inside the project
    tree, slither finds foundry.toml above the target, takes another code path and dies silently on a compile
    error."""
    if not SLITHER.is_file():
        raise CheckError(f"{SLITHER} not found: install requirements.txt into the venv")
    with tempfile.TemporaryDirectory(prefix="slither-check-") as scratch:
        input_path = Path(scratch) / "standard-input.json"
        input_path.write_text(standard_input)
        command = _slither_command(input_path, solc)
        proc = subprocess.run(command, cwd=scratch, capture_output=True, text=True, check=False)
    try:
        output = json.loads(proc.stdout)
    except json.JSONDecodeError:
        detail = (proc.stderr or proc.stdout)[-4000:]
        raise CheckError(f"slither exited {proc.returncode} without a JSON report:\n{detail}") from None
    if proc.returncode != 0 or not output.get("success") or output.get("error"):
        console = output.get("results", {}).get("console", {}).get("stderr", "")
        raise CheckError(f"slither failed (exit {proc.returncode}): {output.get('error')}\n{console[-4000:]}")
    return output


def analysed_contracts(output: dict, sources: list[Path]) -> tuple[list[str], int]:
    """Names of the contracts slither compiled from our sources, and the total count (with dependencies)."""
    wanted = {str(path) for path in sources}
    ours, total = [], 0
    for compilation in output["results"].get("compilations", []):
        for unit in compilation["compilation_units"].values():
            for source_unit in unit["source_units"].values():
                for name, contract in source_unit.get("contracts", {}).items():
                    total += 1
                    if contract["filenames"]["absolute"] in wanted:
                        ours.append(name)
    return sorted(ours), total


def compiler_version(output: dict) -> set[str]:
    return {
        unit["compiler"].get("version", "?")
        for compilation in output["results"].get("compilations", [])
        for unit in compilation["compilation_units"].values()
    }


# ----- findings ------------------------------------------------------------------------------------------


def _in_dependency(element: dict) -> bool:
    path = element.get("source_mapping", {}).get("filename_absolute", "")
    return "/node_modules/" in path


def location(result: dict) -> str:
    """Contract.function, Contract.variable or Contract.function.variable of the result's first element."""
    if not result["elements"]:
        return "<no location>"
    names = []
    element = result["elements"][0]
    while element:
        if element["type"] != "node":
            names.append(element["name"])
        element = element.get("type_specific_fields", {}).get("parent")
    return ".".join(reversed(names))


def own_findings(output: dict) -> tuple[list[Finding], int]:
    """Findings that involve our code, and the number dropped as OpenZeppelin-only."""
    findings, dropped = [], 0
    for result in output["results"].get("detectors", []):
        if result["elements"] and all(_in_dependency(e) for e in result["elements"]):
            dropped += 1
            continue
        summary = result["description"].strip().splitlines()[0]
        findings.append(Finding(result["check"], result["impact"], location(result), summary))
    return findings, dropped


# ----- triage --------------------------------------------------------------------------------------------


def _triage_sections(text: str) -> list[tuple[str, list[str], list[str]]]:
    """(detector, locations, reason lines) per "### `detector`" section; any other heading ends a section."""
    sections: list[tuple[str, list[str], list[str]]] = []
    current = None
    for line in text.splitlines():
        if line.startswith("#"):
            match = TRIAGE_SECTION.match(line)
            current = (match.group(1), [], []) if match else None
            if current:
                sections.append(current)
        elif current:
            found = TRIAGE_LOCATION.match(line)
            if found:
                current[1].append(found.group(1))
            elif line.strip():
                current[2].append(line.strip())
    return sections


def load_triage(path: Path) -> dict[tuple[str, str], str]:
    """(detector, location) -> reason, from the triage markdown."""
    if not path.is_file():
        raise CheckError(f"triage file {path} not found")
    entries: dict[tuple[str, str], str] = {}
    for detector, locations, reason in _triage_sections(path.read_text()):
        if not locations or not reason:
            raise CheckError(f"{path.name}: section `{detector}` needs '- `location`' lines and a reason")
        for loc in locations:
            if (detector, loc) in entries:
                raise CheckError(f"{path.name}: `{detector}` at `{loc}` is triaged twice")
            entries[(detector, loc)] = " ".join(reason)
    return entries


def report(findings: list[Finding], triage: dict[tuple[str, str], str]) -> tuple[list[Finding], int, set]:
    """Untriaged High/Medium/Low findings, the number of triaged ones, and the triage keys that were used."""
    untriaged, triaged, used = [], 0, set()
    for finding in findings:
        if finding.impact not in MUST_TRIAGE:
            continue
        key = (finding.detector, finding.location)
        if key in triage:
            triaged += 1
            used.add(key)
        else:
            untriaged.append(finding)
    return untriaged, triaged, used


def print_untriaged(untriaged: list[Finding]) -> None:
    """One line per detector and location (slither reports a shared variable once per contract using it)."""
    grouped = Counter((f.impact, f.detector, f.location, f.summary) for f in untriaged)
    print(f"\n{len(untriaged)} High/Medium/Low finding(s) not in {os.path.relpath(TRIAGE_FILE, ROOT)}:")
    for (impact, detector, loc, summary), count in sorted(grouped.items(), key=lambda i: IMPACTS.index(i[0][0])):
        times = f" (x{count})" if count > 1 else ""
        print(f"  [{impact}] {detector} at `{loc}`{times}: {summary}")
    print("Fix them, or triage them: a '### `detector`' section with '- `location`' lines and a reason.")


# ----- main ----------------------------------------------------------------------------------------------


def main() -> int:
    started = time.monotonic()
    try:
        compiler = brownie_compiler_config()
        sources = project_sources()
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        standard_input = json.dumps(standard_json_input(sources, compiler), indent=1)
        (OUT_DIR / "standard-input.json").write_text(standard_input)
        output = run_slither(standard_input, solc_shim(str(compiler["solc"]["version"])))
        ours, total = analysed_contracts(output, sources)
        if not ours:
            raise CheckError(f"slither analysed no contract from contracts/ ({total} in all): nothing was checked")
        if compiler_version(output) != {str(compiler["solc"]["version"])}:
            raise CheckError(f"slither compiled with solc {compiler_version(output)}, not the pinned version")
        output["results"].pop("compilations", None)
        (OUT_DIR / "slither-output.json").write_text(json.dumps(output, indent=1))
        findings, dropped = own_findings(output)
        triage = load_triage(TRIAGE_FILE)
    except CheckError as error:
        print(f"slither check: ERROR: {error}", file=sys.stderr)
        return 2

    untriaged, triaged, used = report(findings, triage)
    stale = sorted(set(triage) - used)
    if untriaged:
        print_untriaged(untriaged)
    for detector, loc in stale:
        print(f"slither check: stale triage entry (matches no finding): `{detector}` at `{loc}`")
    counts = Counter(finding.impact for finding in findings)
    by_impact = ", ".join(f"{impact} {counts.get(impact, 0)}" for impact in IMPACTS)
    verdict = "FAIL" if untriaged else "OK"
    print(
        f"slither check: {verdict}: {len(ours)} contracts analysed ({total} with interfaces and OpenZeppelin); "
        f"findings: {by_impact} ({dropped} OpenZeppelin-only dropped); "
        f"triaged {triaged} (by {len(used)} triage entries), untriaged {len(untriaged)}, stale entries {len(stale)}; "
        f"{time.monotonic() - started:.0f} s"
    )
    return 1 if untriaged else 0


if __name__ == "__main__":
    sys.exit(main())
