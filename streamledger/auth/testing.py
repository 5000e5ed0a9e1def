"""Helpers for the tests and the benchmark: a local anvil of our own, and the service as a subprocess.

Development only: anvil from the venv (linked from node_modules by `make setup`), loopback addresses only.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ..artifacts import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def anvil_binary() -> str:
    for candidate in (ROOT / ".venv" / "bin" / "anvil", ROOT / "node_modules" / ".bin" / "anvil"):
        if candidate.exists():
            return str(candidate)
    return "anvil"


class AnvilNode:
    """An anvil on a free loopback port; with `state`, it keeps its chain in that file across restarts."""

    def __init__(self, state: Path | None = None, accounts: int = 12, extra: tuple[str, ...] = ()):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.state = state
        self.accounts = accounts
        self.extra = extra
        self.proc: subprocess.Popen | None = None

    def start(self) -> AnvilNode:
        cmd = [
            anvil_binary(),
            "--port",
            str(self.port),
            "--accounts",
            str(self.accounts),
            "--silent",
            "--gas-limit",
            "30000000",
            "--block-base-fee-per-gas",
            "0",
        ]
        if self.state is not None:
            cmd += ["--state", str(self.state)]
        cmd += list(self.extra)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise RuntimeError("anvil did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # anvil writes --state on the way down
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


class ServiceProcess:
    """`python -m streamledger.cli auth serve …` on a free port, waited for until /healthz answers 200."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, log: Path | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = args
        self.env = env
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> ServiceProcess:
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamledger.cli",
                "auth",
                "serve",
                "--listen",
                f"127.0.0.1:{self.port}",
                *self.args,
            ],
            env={**os.environ, **(self.env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=str(ROOT),
        )
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the auth service exited with {self.proc.returncode} (log: {self.log})")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the auth service did not become ready (log: {self.log})")

    def status(self) -> dict:
        with urllib.request.urlopen(self.url + "/api/v1/status", timeout=5) as r:
            return json.loads(r.read())

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
