"""The catalogue loader refuses malformed files before anything reaches the chain."""

import re

import pytest
import yaml

from streamledger.brownie_support import DEFAULT_CATALOGUE
from streamledger.catalogue import CatalogueError, load_catalogue, parse_catalogue


def base():
    return yaml.safe_load(DEFAULT_CATALOGUE.read_text())


def test_default_development_catalogue_has_plan_1_basic():
    cat = load_catalogue(DEFAULT_CATALOGUE)
    basic = cat.plans[0]
    assert (basic.key, basic.name, basic.price) == ("basic", "Basic", "10")
    assert (basic.period_days, basic.grace_days, basic.packages) == (30, 3, (1,))
    params = basic.params(decimals=6, split_id=1)
    assert params[1] == 10_000_000 and params[2] == 30 * 86_400 and params[4] == 3 * 86_400


def test_split_order_is_kept_so_the_first_entry_takes_the_remainder():
    cat = load_catalogue(DEFAULT_CATALOGUE)
    assert list(cat.splits["basic"]) == ["platform", "newsnet"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["splits"]["basic"].update(platform=2000), "sum to 9000"),
        (lambda d: d["splits"]["basic"].update(nobody=1), "unknown provider 'nobody'"),
        (lambda d: d["plans"][0].update(split="missing"), "unknown split"),
        (lambda d: d["plans"][0].update(grace_days=30), "grace_days must be shorter"),
        (lambda d: d["plans"][0].update(price="10.0000001"), "more than 6 decimals"),
        (lambda d: d["plans"][0].update(price="0"), "price must be positive"),
        (lambda d: d["plans"][0].update(packages=[0]), "positive integers"),
        (lambda d: d["plans"][1].update(key="basic"), "unique"),
        (lambda d: d["plans"][0].pop("period_days"), "missing period_days"),
        (lambda d: d.update(providers={}), "at least one provider"),
    ],
)
def test_malformed_catalogues_are_refused_with_the_entry_named(mutate, message):
    data = base()
    mutate(data)
    with pytest.raises(CatalogueError, match=re.escape(message)):
        parse_catalogue(data, "test.yaml")


def test_invalid_yaml_names_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("plans: [\n")
    with pytest.raises(CatalogueError, match=r"broken\.yaml: not valid YAML"):
        load_catalogue(path)
