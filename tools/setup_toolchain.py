"""Idempotent machine set-up that `make` runs before anything touches brownie.

1. Installs the project's solc shim (tools/solc-wrapper.js) as `solc-v<version>` where py-solc-x looks
   for compilers ($SOLCX_BINARY_PATH, default ~/.solcx), so `brownie compile` never downloads anything.
2. Links the chain binaries from node_modules (anvil, ganache-cli, cast) into the venv's bin/, so brownie
   finds them on PATH whenever the venv is active.
3. Adds the project's brownie networks to ~/.brownie/network-config.yaml: `ganache` (a local ganache on
   the shanghai hardfork) and `rpc` (attach to $RPC_URL, never launch a node).

Every step compares what is there with what should be there and only writes on a difference, so a
second run is a no-op.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
NODE_BIN = ROOT / "node_modules" / ".bin"

NETWORKS = {
    # id: (kind, {settings}). `development` is brownie's own anvil network with a larger block gas limit
    # (renewal batches of 500 customers) and twelve accounts (the test roles, see tests/conftest.py).
    "development": (
        "Development",
        {
            "name": "Anvil",
            "cmd": "anvil",
            "host": "http://127.0.0.1",
            "cmd_settings": {"port": 8545, "gas_limit": 30000000, "accounts": 12, "base_fee": 0},
        },
    ),
    "ganache": (
        "Development",
        {
            "name": "Ganache (shanghai)",
            "cmd": "ganache-cli",
            "host": "http://127.0.0.1",
            "cmd_settings": {
                "port": 8545,
                "gas_limit": 30000000,
                "accounts": 12,
                "evm_version": "shanghai",
                "mnemonic": "brownie",
            },
        },
    ),
    "rpc": (
        "Ethereum",
        {"name": "RPC_URL node", "host": "$RPC_URL", "chainid": 31337},
    ),
}


def _write_if_changed(path: Path, content: str, executable: bool = False) -> bool:
    if path.exists() and path.read_text() == content:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    if executable:
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return True


def install_solc_shim() -> None:
    config = yaml.safe_load((ROOT / "brownie-config.yaml").read_text())
    pinned = str(config["compiler"]["solc"]["version"])
    npm_version = json.loads((ROOT / "node_modules" / "solc" / "package.json").read_text())["version"]
    if npm_version != pinned:
        sys.exit(
            f"setup: brownie-config.yaml pins solc {pinned} but node_modules has solc {npm_version}; "
            "make them agree (package.json and compiler.solc.version)"
        )
    target_dir = Path(os.environ.get("SOLCX_BINARY_PATH", Path.home() / ".solcx"))
    source = (ROOT / "tools" / "solc-wrapper.js").read_text().replace("__INSTALLED_FROM__", str(ROOT))
    target = target_dir / f"solc-v{pinned}"
    if _write_if_changed(target, source, executable=True):
        print(f"setup: installed solc shim {target}")
    out = subprocess.run([str(target), "--version"], capture_output=True, text=True, check=True, cwd=ROOT)
    if f"Version: {pinned}+commit." not in out.stdout:
        sys.exit(f"setup: solc shim answered an unexpected version:\n{out.stdout}{out.stderr}")


def link_chain_binaries() -> None:
    for name in ("anvil", "ganache-cli", "ganache", "cast"):
        source = NODE_BIN / name
        if not source.exists():
            sys.exit(f"setup: {source} is missing; run 'npm ci'")
        link = VENV_BIN / name
        if link.is_symlink() and os.readlink(link) == str(source):
            continue
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to(source)
        print(f"setup: linked {link} -> {source}")


def _network_config() -> dict:
    path = Path.home() / ".brownie" / "network-config.yaml"
    if not path.exists():  # brownie writes its data folder on first import
        subprocess.run([str(VENV_BIN / "brownie"), "networks", "list"], capture_output=True, check=True)
    return yaml.safe_load(path.read_text())


def _existing_networks(config: dict) -> dict[str, dict]:
    found = {}
    for group in config.get("development", []):
        found[group["id"]] = group
    for chain in config.get("live", []):
        for net in chain.get("networks", []):
            found[net["id"]] = net
    return found


def _flatten(settings: dict) -> dict:
    flat = {k: v for k, v in settings.items() if k not in ("cmd_settings", "id")}
    flat.update(settings.get("cmd_settings", {}))
    return flat


def add_brownie_networks() -> None:
    existing = _existing_networks(_network_config())
    for net_id, (kind, settings) in NETWORKS.items():
        current = existing.get(net_id)
        if current is not None and _flatten(current) == _flatten(settings):
            continue
        args = [f"{k}={v}" for k, v in _flatten(settings).items() if k != "name"]
        if current is not None:
            subprocess.run([str(VENV_BIN / "brownie"), "networks", "delete", net_id], check=True, capture_output=True)
        subprocess.run(
            [str(VENV_BIN / "brownie"), "networks", "add", kind, net_id, f"name={settings['name']}", *args],
            check=True,
            capture_output=True,
        )
        print(f"setup: brownie network '{net_id}' configured")


def main() -> None:
    install_solc_shim()
    link_chain_binaries()
    add_brownie_networks()


if __name__ == "__main__":
    main()
