"""Fixtures for package tests that need no chain."""

import pytest
from eth_account import Account

from streamledger.deployment import Deployment
from streamledger.oracle import dev_oracle_key


@pytest.fixture
def offline_deployment():
    """A deployment record for an imaginary chain: the feeder's rules need no node."""
    keys = [dev_oracle_key(i) for i in range(3)]
    return Deployment(
        network="test",
        chain_id=31337,
        billing="0x" + "42" * 20,
        token="0x" + "43" * 20,
        token_decimals=6,
        token_symbol="tUSD",
        modules={},
        deployer="0x" + "44" * 20,
        block=0,
        meters={"premium_minutes": 1, "gb_delivered": 2},
        meter_units={"premium_minutes": "minute", "gb_delivered": "MB"},
        vod_titles={"the_long_night": 1},
        oracle_signers=[Account.from_key(k).address for k in keys],
        oracle_threshold=2,
    )
