"""EIP-2612 permits, signed by a local key (eth-account) or by an unlocked development account
(eth_signTypedData_v4 on the node). Either way it is a real EIP-712 signature the token verifies."""

from __future__ import annotations

import json
from typing import Any

from eth_account import Account as EthAccount
from eth_account.messages import encode_typed_data

from .chain import Chain


def permit_typed_data(chain: Chain, token: Any, owner: str, spender: str, value: int, deadline: int) -> dict:
    name = token.functions.name().call()
    nonce = token.functions.nonces(owner).call()
    try:
        version = token.functions.eip712Domain().call()[2]
    except Exception:  # tokens without ERC-5267 use version "1"
        version = "1"
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Permit": [
                {"name": "owner", "type": "address"},
                {"name": "spender", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ],
        },
        "primaryType": "Permit",
        "domain": {
            "name": name,
            "version": version,
            "chainId": chain.w3.eth.chain_id,
            "verifyingContract": token.address,
        },
        "message": {"owner": owner, "spender": spender, "value": value, "nonce": nonce, "deadline": deadline},
    }


def sign_permit(chain: Chain, token: Any, spender: str, value: int, deadline: int) -> tuple[int, bytes, bytes]:
    """(v, r, s) of a permit from chain.sender to `spender` for `value` until `deadline`."""
    owner = chain.sender.address
    typed = permit_typed_data(chain, token, owner, spender, value, deadline)
    if chain.sender.key is not None:
        signed = EthAccount.sign_message(encode_typed_data(full_message=typed), chain.sender.key)
        signature = bytes(signed.signature)
    else:
        result = chain.w3.provider.make_request("eth_signTypedData_v4", [owner, json.dumps(typed)])
        if "error" in result:
            raise RuntimeError(f"node refused to sign the permit for {owner}: {result['error']}")
        signature = bytes.fromhex(result["result"].removeprefix("0x"))
    r, s, v = signature[:32], signature[32:64], signature[64]
    return (v if v >= 27 else v + 27), r, s
