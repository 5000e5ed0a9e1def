"""Gas benchmark on the embedded anvil: `make bench` (brownie run scripts/bench_gas.py)."""

from pathlib import Path

from streamledger import brownie_support
from streamledger.bench import gas


def main(out: str = "benchmarks/results/gas.json") -> None:
    chain = brownie_support.chain()
    report = gas.run(chain, list(chain.w3.eth.accounts), Path(out))
    width = max(len(k) for k in report["results"])
    for name, value in report["results"].items():
        goal = gas.GOALS.get(name)
        mark = "" if goal is None else f"   goal <= {goal:,}: {'met' if value <= goal else 'MISSED'}"
        print(f"{name:<{width}}  {value:>10,}{mark}")
    print(f"written to {out} ({report['seconds']} s)")
