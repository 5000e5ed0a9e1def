"""StreamLedger: on-chain billing for IPTV operators."""
