"""The authorization backend for streaming servers: "may this player play this stream?", answered from the chain.

- `tokens`: device tokens (HMAC-SHA256, operator keys) and wallet sign-in (EIP-4361 messages, one-time nonces).
- `config`: the operator's stream map (stream name -> package ids).
- `state`: entitlements held in memory and the decision itself (no I/O).
- `follower`: the background thread that follows the billing contract's events and keeps `state` current.
- `server`: the HTTP service (Flussonic auth backend protocol and a JSON API), asyncio + httptools (+ uvloop).

Format and guarantees: docs/auth-backend.md. Runs on plain web3.py; brownie is never imported.
"""
