"""The service's decisions: a token and a stream name in, a Decision out, from memory only.

`AuthService` owns the state the follower keeps current, the chain clock, the token verifier and the wallet
sign-in. Both HTTP faces (Flussonic's protocol and the JSON API) call `decide`, so they cannot disagree.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from .config import StreamMap
from .state import Decision, State
from .tokens import Claims, KeyRing, TokenError, TokenVerifier, WalletSignIn, issue_token


@dataclass
class Settings:
    auth_duration: int = 60  # X-AuthDuration cap for a 200: how long Flussonic may reuse it before asking again
    deny_duration: int = 10  # X-AuthDuration sent with a 403
    item_max_sessions: int = 1  # X-Max-Sessions for PPV/VOD access without a live plan
    user_id: str = "customer_id"  # X-UserId: the on-chain customer id, or "address"
    wallet_token_lifetime: int = 12 * 3600  # device tokens issued after a wallet sign-in


class AuthService:
    def __init__(
        self,
        streams: StreamMap,
        keyring: KeyRing,
        settings: Settings | None = None,
        sign_in: WalletSignIn | None = None,
        chain_id: int = 0,
        billing: str = "",
    ):
        self.streams = streams
        self.keyring = keyring
        self.tokens = TokenVerifier(keyring)
        self.settings = settings or Settings()
        self.sign_in = sign_in
        self.chain_id = chain_id
        self.billing = billing
        self.state = State()
        # (block timestamp, time.monotonic() when the block was seen, block number, block hash)
        self.clock: tuple[int, float, int, str] = (0, 0.0, 0, "")
        self.ready = False
        self.follower: Any = None
        self._address_text: dict[bytes, str] = {}

    # ----- written by the follower -----

    def install(self, state: State, head: Any) -> None:
        """A state as of `head` (new or updated in place), then the clock moves to that head."""
        self.state = state
        self.clock = (head.timestamp, head.seen, head.number, head.hash)
        self.ready = True

    # ----- the request path -----

    def chain_now(self) -> float:
        """The chain's time: the latest block's timestamp plus the wall-clock seconds since it was seen."""
        timestamp, seen, _, _ = self.clock
        return timestamp + (time.monotonic() - seen)

    def decide(self, token: str, stream: str) -> tuple[Decision, Claims | None]:
        packages = self.streams.packages_of(stream)
        if packages is None:
            return Decision(False, "unknown_stream", 0, 0, 0.0, 0), None
        try:
            claims = self.tokens.verify(token, time.time())
        except TokenError as exc:
            return Decision(False, exc.reason, 0, 0, 0.0, packages[0]), None
        now = self.chain_now()
        return self.state.decide(claims.address, packages, now, self.settings.item_max_sessions), claims

    def auth_duration(self, decision: Decision) -> int:
        """How long the streaming server may reuse an answer: never past the end of the entitlement."""
        if not decision.allowed:
            return self.settings.deny_duration
        left = math.ceil(decision.until - self.chain_now())
        return max(1, min(self.settings.auth_duration, left))

    def user_id(self, decision: Decision, claims: Claims | None) -> str:
        if self.settings.user_id == "address" and claims is not None:
            return self.address_text(claims.address)
        return str(decision.customer_id)

    def address_text(self, address: bytes) -> str:
        text = self._address_text.get(address)
        if text is None:
            from eth_utils import to_checksum_address

            text = to_checksum_address(address)
            if len(self._address_text) > 100_000:
                self._address_text.clear()
            self._address_text[address] = text
        return text

    # ----- wallet sign-in -----

    def exchange(self, message: str, signature: str) -> tuple[str, bytes, int]:
        """A device token for a valid EIP-4361 message (its nonce is then spent); TokenError otherwise."""
        if self.sign_in is None:
            raise TokenError("sign_in_disabled")
        address, request_id, _ = self.sign_in.verify(message, signature)
        device = (request_id or "wallet")[:64]
        now = int(time.time())
        lifetime = self.settings.wallet_token_lifetime
        return issue_token(self.keyring, address, device, lifetime, now), address, now + lifetime

    # ----- status -----

    def status(self) -> dict[str, Any]:
        timestamp, seen, number, block_hash = self.clock
        f = self.follower
        now = time.monotonic()
        return {
            "ready": self.ready,
            "chainId": self.chain_id,
            "billing": self.billing,
            "block": number,
            "blockHash": block_hash,
            "blockTimestamp": timestamp,
            "chainTime": int(self.chain_now()) if self.ready else 0,
            "secondsSinceBlockSeen": round(now - seen, 3) if self.ready else None,
            "customers": len(self.state.accounts),
            "plans": len(self.state.plans),
            "ppvEvents": len(self.state.ppv_events),
            "vodTitles": len(self.state.vod_titles),
            "nodeError": f.last_error if f else None,
            "secondsSinceLastPoll": round(now - f.last_ok, 3) if f and f.last_ok else None,
            "reorgs": f.reorgs if f else 0,
            "resyncs": f.resyncs if f else 0,
            "reorgDepth": f.reorg_depth if f else 0,
        }
