"""Deploys the billing system and loads a catalogue: `brownie run scripts/deploy.py [main <catalogue.yaml>]`.

On development chains it also deploys a test stablecoin. Elsewhere it signs with $DEPLOYER_KEY or
$DEPLOYER_KEYSTORE and bills in $STABLECOIN_ADDRESS (or the catalogue's token.address).
Writes deployments/<network>.json.
"""

import logging

from streamledger import brownie_support


def main(catalogue: str = str(brownie_support.DEFAULT_CATALOGUE)) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    deployment = brownie_support.deploy(catalogue)
    print(f"billing {deployment.billing}  token {deployment.token}  chain {deployment.chain_id}")
    print(f"written to deployments/{deployment.network}.json")
