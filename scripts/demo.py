"""The main job on the embedded local chain: `make demo` (brownie run scripts/demo.py)."""

import logging

from streamledger import brownie_support, demo


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not brownie_support.is_development():
        raise SystemExit("the demo travels in time and mints test tokens: run it on a development network")
    chain = brownie_support.chain()
    demo.run(chain, brownie_support.DEFAULT_CATALOGUE, brownie_support.active_network(), list(chain.w3.eth.accounts))
