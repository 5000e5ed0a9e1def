"""The usage oracle's side of the signed batches: EIP-712 typed data, digests, signatures and the records tree.

A batch is signed as the EIP-712 struct (domain "StreamLedger Billing", version "1", chain id, the billing
address):

    UsageBatch(uint64 batchId,uint64 deadline,uint16 meterId,uint32 windowStart,uint32 windowEnd,
               bytes32 recordsRoot,bytes lines)

`lines` packs each line as a 4-byte customer id and a 4-byte quantity, big-endian: the bytes the contract
receives, hashed once per batch (a Line[] struct array would cost the chain about 95 gas more per line).

`recordsRoot` is the root of a Merkle tree (OpenZeppelin MerkleProof: sorted pairs) whose leaf i is
keccak256(bytes.concat(keccak256(abi.encode(uint256 i, uint32 customerId, bytes32 recordsHash)))) and
`recordsHash` commits to the session records behind line i (docs/usage-records.md).

Digests are computed here directly (keccak over the encoding the contract uses), so signing thousands of
batches does not go through a generic typed-data encoder; `typed_data()` gives the same message as
`eth_signTypedData_v4` JSON for external signers (hardware wallets, `cast wallet sign --data`), and a test
checks both paths give the same digest.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import coincurve
import numpy as np
from eth_abi import encode as abi_encode
from eth_account import Account as EthAccount
from eth_account.messages import encode_typed_data
from eth_utils import to_checksum_address
from sha3 import keccak_256 as _keccak_256  # safe-pysha3: C, several times faster than eth_utils' backend


def keccak(data: bytes = b"", text: str | None = None) -> bytes:
    return _keccak_256(text.encode() if text is not None else data).digest()


DOMAIN_NAME = "StreamLedger Billing"
DOMAIN_VERSION = "1"

USAGE_BATCH_TYPE = (
    "UsageBatch(uint64 batchId,uint64 deadline,uint16 meterId,uint32 windowStart,uint32 windowEnd,"
    "bytes32 recordsRoot,bytes lines)"
)
RENTAL_BATCH_TYPE = "RentalBatch(uint64 batchId,uint64 deadline,bytes rentals)"
DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"

USAGE_BATCH_TYPEHASH = keccak(text=USAGE_BATCH_TYPE)
RENTAL_BATCH_TYPEHASH = keccak(text=RENTAL_BATCH_TYPE)

MAX_U32 = 2**32 - 1


def dev_oracle_key(n: int) -> bytes:
    """Development oracle key n ("dev-oracle:<n>" in catalogues). Public by construction: local chains only."""
    return keccak(text=f"streamledger development oracle {n}")


class SignatureError(ValueError):
    """A signature does not recover to an oracle signer of this batch, or signatures are missing."""


@functools.lru_cache(maxsize=64)
def domain_separator(chain_id: int, billing: str) -> bytes:
    return keccak(
        abi_encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [keccak(text=DOMAIN_TYPE), keccak(text=DOMAIN_NAME), keccak(text=DOMAIN_VERSION), chain_id, billing],
        )
    )


def _eip712_digest(separator: bytes, struct_hash: bytes) -> bytes:
    return keccak(b"\x19\x01" + separator + struct_hash)


def _u256(value: int) -> bytes:
    return value.to_bytes(32, "big")


# ----- the records tree --------------------------------------------------------------------------------------


def records_leaf(index: int, customer_id: int, records_hash: bytes) -> bytes:
    """keccak256(abi.encode(uint256 index, uint32 customerId, bytes32 recordsHash)). Hashed once, not twice
    as OpenZeppelin's standard tree does: that guards leaves of 64 bytes, which could pass for inner nodes;
    these are 96."""
    return keccak(_u256(index) + _u256(customer_id) + records_hash)


def records_leaves(lines: Sequence[tuple[int, bytes]]) -> list[bytes]:
    """Leaves for (customer id, records hash) pairs in line order; records_leaf, without per-call overhead."""
    k = _keccak_256
    return [k(i.to_bytes(32, "big") + cid.to_bytes(32, "big") + rh).digest() for i, (cid, rh) in enumerate(lines)]


def packed_leaves(packed: bytes, hashes: bytes) -> list[bytes]:
    """The leaves of a batch from its packed lines (settleUsage's `lines`: 4-byte customer id and 4-byte
    quantity each) and its records hashes (32 bytes each, in line order): records_leaf for every line, the
    96-byte preimages laid out in one buffer instead of built line by line."""
    n = len(packed) // 8
    if len(packed) != 8 * n or len(hashes) != 32 * n:
        raise ValueError(f"{len(packed)} bytes of lines and {len(hashes)} bytes of records hashes do not match")
    rows = np.zeros((n, 96), np.uint8)
    rows[:, 28:32] = np.arange(n, dtype=">u4").view(np.uint8).reshape(n, 4)
    rows[:, 60:64] = np.frombuffer(packed, np.uint8).reshape(n, 8)[:, :4]
    rows[:, 64:] = np.frombuffer(hashes, np.uint8).reshape(n, 32)
    view = memoryview(rows.tobytes())
    k = _keccak_256
    return [k(view[at : at + 96]).digest() for at in range(0, 96 * n, 96)]


def _pair(a: bytes, b: bytes) -> bytes:
    return keccak(a + b) if a < b else keccak(b + a)


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """Root of the sorted-pair tree over `leaves` (an odd node moves up unpaired)."""
    if not leaves:
        return b"\x00" * 32
    k = _keccak_256
    level = list(leaves)
    while len(level) > 1:
        up = [k(a + b if a < b else b + a).digest() for a, b in zip(level[0::2], level[1::2], strict=False)]
        if len(level) % 2:
            up.append(level[-1])
        level = up
    return level[0]


def merkle_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The sibling path of leaf `index`, for OpenZeppelin MerkleProof.verify."""
    proof = []
    level = list(leaves)
    while len(level) > 1:
        sibling = index ^ 1
        if sibling < len(level):
            proof.append(level[sibling])
        level = [_pair(level[i], level[i + 1]) if i + 1 < len(level) else level[i] for i in range(0, len(level), 2)]
        index //= 2
    return proof


def verify_proof(proof: Iterable[bytes], root: bytes, leaf: bytes) -> bool:
    computed = leaf
    for node in proof:
        computed = _pair(computed, node)
    return computed == root


# ----- usage batches -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UsageLine:
    customer_id: int
    quantity: int
    records_hash: bytes = b"\x00" * 32  # commitment to the session records behind the line

    def __post_init__(self) -> None:
        if not (0 < self.customer_id <= MAX_U32 and 0 <= self.quantity <= MAX_U32):
            raise ValueError(f"line out of range: customer {self.customer_id}, quantity {self.quantity}")


@dataclass
class UsageBatchData:
    batch_id: int
    deadline: int
    meter_id: int
    window_start: int
    window_end: int
    lines: list[UsageLine] = field(default_factory=list)
    _root: bytes | None = field(default=None, repr=False, compare=False)

    # -- encodings --

    def packed_lines(self) -> bytes:
        """The `lines` argument of settleUsage: 4-byte customer id and 4-byte quantity per line."""
        return b"".join(line.customer_id.to_bytes(4, "big") + line.quantity.to_bytes(4, "big") for line in self.lines)

    def leaves(self) -> list[bytes]:
        return records_leaves([(line.customer_id, line.records_hash) for line in self.lines])

    def records_root(self) -> bytes:
        """Computed once: the lines of a batch do not change after it is built."""
        if self._root is None:
            self._root = merkle_root(self.leaves())
        return self._root

    def header(self) -> tuple:
        """The `batch` argument of settleUsage."""
        return (self.batch_id, self.deadline, self.meter_id, self.window_start, self.window_end, self.records_root())

    def struct_hash(self, packed: bytes | None = None) -> bytes:
        return keccak(
            USAGE_BATCH_TYPEHASH
            + _u256(self.batch_id)
            + _u256(self.deadline)
            + _u256(self.meter_id)
            + _u256(self.window_start)
            + _u256(self.window_end)
            + self.records_root()
            + keccak(packed if packed is not None else self.packed_lines())
        )

    def digest(self, chain_id: int, billing: str, packed: bytes | None = None) -> bytes:
        return _eip712_digest(domain_separator(chain_id, billing), self.struct_hash(packed))

    def typed_data(self, chain_id: int, billing: str) -> dict:
        """The batch as eth_signTypedData_v4 JSON (what an external signer is shown and signs)."""
        return {
            "types": {
                "EIP712Domain": _DOMAIN_FIELDS,
                "UsageBatch": [
                    {"name": "batchId", "type": "uint64"},
                    {"name": "deadline", "type": "uint64"},
                    {"name": "meterId", "type": "uint16"},
                    {"name": "windowStart", "type": "uint32"},
                    {"name": "windowEnd", "type": "uint32"},
                    {"name": "recordsRoot", "type": "bytes32"},
                    {"name": "lines", "type": "bytes"},
                ],
            },
            "primaryType": "UsageBatch",
            "domain": _domain(chain_id, billing),
            "message": {
                "batchId": self.batch_id,
                "deadline": self.deadline,
                "meterId": self.meter_id,
                "windowStart": self.window_start,
                "windowEnd": self.window_end,
                "recordsRoot": "0x" + self.records_root().hex(),
                "lines": "0x" + self.packed_lines().hex(),
            },
        }


@dataclass(frozen=True)
class RentalReport:
    customer_id: int
    title_id: int
    first_play_at: int


@dataclass
class RentalBatchData:
    batch_id: int
    deadline: int
    rentals: list[RentalReport] = field(default_factory=list)

    def packed(self) -> bytes:
        return b"".join(
            r.customer_id.to_bytes(4, "big") + r.title_id.to_bytes(4, "big") + r.first_play_at.to_bytes(5, "big")
            for r in self.rentals
        )

    def header(self) -> tuple:
        return (self.batch_id, self.deadline)

    def struct_hash(self, packed: bytes | None = None) -> bytes:
        rentals = keccak(packed if packed is not None else self.packed())
        return keccak(RENTAL_BATCH_TYPEHASH + _u256(self.batch_id) + _u256(self.deadline) + rentals)

    def digest(self, chain_id: int, billing: str, packed: bytes | None = None) -> bytes:
        return _eip712_digest(domain_separator(chain_id, billing), self.struct_hash(packed))

    def typed_data(self, chain_id: int, billing: str) -> dict:
        return {
            "types": {
                "EIP712Domain": _DOMAIN_FIELDS,
                "RentalBatch": [
                    {"name": "batchId", "type": "uint64"},
                    {"name": "deadline", "type": "uint64"},
                    {"name": "rentals", "type": "bytes"},
                ],
            },
            "primaryType": "RentalBatch",
            "domain": _domain(chain_id, billing),
            "message": {
                "batchId": self.batch_id,
                "deadline": self.deadline,
                "rentals": "0x" + self.packed().hex(),
            },
        }


_DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


def _domain(chain_id: int, billing: str) -> dict:
    return {
        "name": DOMAIN_NAME,
        "version": DOMAIN_VERSION,
        "chainId": chain_id,
        "verifyingContract": to_checksum_address(billing),
    }


# ----- signatures --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _private_key(key: bytes) -> coincurve.PrivateKey:
    return coincurve.PrivateKey(key)


def sign_digest(digest: bytes, key: bytes) -> bytes:
    """A 65-byte (r, s, v) signature of an EIP-712 digest: libsecp256k1's deterministic (RFC 6979), low-s
    signature, byte for byte what eth-account makes, without re-deriving the key for every batch."""
    signature = _private_key(bytes(key)).sign_recoverable(digest, hasher=None)
    return signature[:64] + bytes([signature[64] + 27])


def recover(digest: bytes, signature: bytes) -> str:
    return EthAccount._recover_hash(digest, signature=signature)


def typed_data_digest(typed: dict) -> bytes:
    """The digest a wallet signs for `typed` (generic encoder; used to check the fast path and imports)."""
    signable = encode_typed_data(full_message=typed)
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def ordered_signatures(digest: bytes, signatures: Iterable[bytes], signers: set[str] | None = None) -> list[bytes]:
    """Signatures sorted by recovered signer (as the contract requires), duplicates of a signer dropped.
    With `signers`, a signature from anyone else is refused with SignatureError."""
    by_signer: dict[str, bytes] = {}
    for signature in signatures:
        signer = recover(digest, signature)
        if signers is not None and signer not in signers:
            raise SignatureError(f"signature recovers to {signer}, which is not an oracle signer")
        by_signer.setdefault(signer, signature)
    return [by_signer[s] for s in sorted(by_signer, key=lambda a: int(a, 16))]


def sign_with_keys(digest: bytes, keys: Sequence[bytes], addresses: Sequence[str] | None = None) -> list[bytes]:
    """Signatures of `digest` by `keys`, sorted by signer address as the contract requires (no recovery: the
    signer of a local key is known; pass `addresses` to skip deriving them again)."""
    addresses = addresses or [EthAccount.from_key(key).address for key in keys]
    by_signer = {int(a, 16): sign_digest(digest, key) for key, a in zip(keys, addresses, strict=True)}
    return [by_signer[a] for a in sorted(by_signer)]


def sign_batch(
    batch: UsageBatchData | RentalBatchData, chain_id: int, billing: str, keys: Sequence[bytes]
) -> list[bytes]:
    return sign_with_keys(batch.digest(chain_id, billing), keys)


def export_typed_data(batch: UsageBatchData | RentalBatchData, chain_id: int, billing: str) -> str:
    """JSON for `eth_signTypedData_v4` or `cast wallet sign --data`."""
    return json.dumps(batch.typed_data(chain_id, billing), indent=2)


def import_signature(
    batch: UsageBatchData | RentalBatchData, chain_id: int, billing: str, signature_hex: str, signers: set[str]
) -> bytes:
    """Checks a signature made elsewhere (hex, as `cast wallet sign` prints it) against the batch and the
    signer set; returns it as bytes."""
    signature = bytes.fromhex(signature_hex.strip().removeprefix("0x"))
    if len(signature) != 65:
        raise SignatureError(f"expected a 65-byte signature, got {len(signature)} bytes")
    signer = recover(batch.digest(chain_id, billing), signature)
    if signer not in signers:
        raise SignatureError(f"signature recovers to {signer}, which is not an oracle signer (wrong batch or key?)")
    return signature
