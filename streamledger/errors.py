"""Decoding of reverts into the contracts' custom errors, for messages a person can act on."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import function_signature_to_4byte_selector

PANIC_CODES = {
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division by zero",
    0x21: "invalid enum value",
    0x31: "pop from empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
}


def _canonical_type(item: dict[str, Any]) -> str:
    if item["type"].startswith("tuple"):
        inner = ",".join(_canonical_type(c) for c in item["components"])
        return f"({inner}){item['type'][5:]}"
    return item["type"]


@dataclass(frozen=True)
class DecodedError:
    """A revert decoded against the known ABIs."""

    name: str
    args: dict[str, Any]
    raw: bytes

    def __str__(self) -> str:
        inner = ", ".join(f"{k}={_fmt(v)}" for k, v in self.args.items())
        return f"{self.name}({inner})"


def _fmt(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


class ErrorDecoder:
    """Maps 4-byte selectors to custom errors of the given ABIs (plus Error(string) and Panic(uint256))."""

    def __init__(self, abis: Iterable[list[dict[str, Any]]]):
        self._errors: dict[bytes, tuple[str, list[str], list[str]]] = {
            bytes.fromhex("08c379a0"): ("Error", ["string"], ["message"]),
            bytes.fromhex("4e487b71"): ("Panic", ["uint256"], ["code"]),
        }
        for abi in abis:
            for item in abi:
                if item.get("type") != "error":
                    continue
                types = [_canonical_type(i) for i in item["inputs"]]
                selector = function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})")
                names = [i["name"] or f"arg{n}" for n, i in enumerate(item["inputs"])]
                self._errors[selector] = (item["name"], types, names)

    def decode(self, data: bytes | str | None) -> DecodedError | None:
        """The error in `data` (revert data), or None when there is none or it is unknown."""
        if data is None:
            return None
        if isinstance(data, str):
            data = bytes.fromhex(data.removeprefix("0x"))
        if len(data) < 4 or data[:4] not in self._errors:
            return None
        name, types, names = self._errors[data[:4]]
        try:
            values = abi_decode(types, data[4:])
        except Exception:  # malformed payload: report the name, keep the raw bytes
            return DecodedError(name, {}, data)
        args = dict(zip(names, values, strict=True))
        if name == "Panic":
            args["meaning"] = PANIC_CODES.get(args["code"], "unknown panic")
        return DecodedError(name, args, data)


def billing_decoder() -> ErrorDecoder:
    from . import artifacts

    parts = [artifacts.billing_abi()]
    with suppress(artifacts.ArtifactError):  # the test token exists only where it was compiled
        parts.append(artifacts.abi("TestStablecoin"))
    return ErrorDecoder(parts)
