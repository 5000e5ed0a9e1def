"""Fixtures for package tests that need no chain."""

import pytest

from streamledger.deployment import Deployment


@pytest.fixture
def offline_deployment():
    """A deployment record for an imaginary chain: the feeder's rules need no node."""
    return Deployment.offline("test")
