"""The solc shim answers what py-solc-x calls, with the real npm compiler, and refuses everything else."""

import json
import subprocess
from pathlib import Path

import pytest
import solcx

ROOT = Path(__file__).resolve().parents[2]
SHIM = ["node", str(ROOT / "tools" / "solc-wrapper.js")]
SOURCE = "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\ncontract Box { uint256 public x; }\n"


def run(*args, stdin=""):
    return subprocess.run([*SHIM, *args], input=stdin, capture_output=True, text=True, cwd=ROOT)


def test_version_banner_is_what_py_solc_x_parses():
    out = run("--version")
    assert out.returncode == 0
    assert "Version: 0.8.37+commit." in out.stdout


def test_standard_json_compiles_with_the_real_compiler():
    request = {
        "language": "Solidity",
        "sources": {"Box.sol": {"content": SOURCE}},
        "settings": {"outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}}},
    }
    out = run("--standard-json", "--allow-paths", ".", stdin=json.dumps(request))
    assert out.returncode == 0, out.stderr
    box = json.loads(out.stdout)["contracts"]["Box.sol"]["Box"]
    assert box["abi"][0]["name"] == "x"
    assert len(box["evm"]["bytecode"]["object"]) > 100


def test_combined_json_abi_from_stdin():
    out = run("--combined-json", "abi", "-", stdin=SOURCE)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["contracts"]["<stdin>:Box"]["abi"][0]["name"] == "x"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--optimize"], "unsupported argument '--optimize'"),
        ([], "no mode given"),
        (["--combined-json", "abi"], "needs '-'"),
        (["--combined-json", "asm", "-"], "unsupported --combined-json output"),
    ],
)
def test_anything_else_fails_loudly(args, message):
    out = run(*args, stdin=SOURCE)
    assert out.returncode != 0
    assert message in out.stderr


def test_py_solc_x_finds_the_installed_shim_and_compiles_through_it():
    installed = {str(v) for v in solcx.get_installed_solc_versions()}
    assert "0.8.37" in installed
    compiled = solcx.compile_source(SOURCE, output_values=["abi"], solc_version="0.8.37")
    assert "<stdin>:Box" in compiled
