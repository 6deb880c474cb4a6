"""The optimizer catalogue: JSON-ready, complete, and agreeing with the core builders."""

from __future__ import annotations

import inspect
import json
import math
from typing import Any

import pytest

from core import optimizers
from core.catalogue import CATALOGUE, entry, meaning, optimizer_catalogue, optimizer_names

TORCH_OPTIMIZERS = {"sgd", "adam", "adamw", "adagrad", "rmsprop", "nadam", "radam", "adamax"}
API_NAMES = TORCH_OPTIMIZERS | {"momentum", "nesterov", "newton"}


def test_catalogue_is_json_ready() -> None:
    data = optimizer_catalogue()
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert [item["name"] for item in data] == list(optimizer_names())
    assert set(optimizer_names()) == API_NAMES


def test_catalogue_entries_are_complete() -> None:
    for item in optimizer_catalogue():
        assert item["rule"]
        assert item["title"]
        assert item["references"]
        assert item["hyperparameters"][0]["name"] == "lr"
        names = [h["name"] for h in item["hyperparameters"]]
        assert len(names) == len(set(names)), item["name"]
        for h in item["hyperparameters"]:
            assert h["meaning"].endswith("."), (item["name"], h["name"])
            assert h["type"] in {"number", "boolean", "string"}


def test_torch_equivalents() -> None:
    data = {item["name"]: item for item in optimizer_catalogue()}
    assert {name for name, item in data.items() if item["matches_torch"]} == (
        TORCH_OPTIMIZERS | {"momentum", "nesterov"}
    )
    assert data["newton"]["torch"] is None
    assert data["adagrad"]["torch"] == "torch.optim.Adagrad"
    forms = {form["name"]: form for form in data["momentum"]["forms"]}
    assert forms["accumulator"]["matches_torch"]
    assert forms["accumulator"]["default"]
    assert not forms["velocity"]["matches_torch"]
    assert not forms["velocity"]["default"]
    forms = {form["name"]: form for form in data["nesterov"]["forms"]}
    assert forms["torch"]["default"]
    assert forms["lookahead"]["torch"] is None


def test_defaults_lie_in_their_ranges() -> None:
    for item in CATALOGUE:
        for h in item.hyperparameters:
            if h.type == "string":
                assert h.default in h.choices
                assert {form.name for form in item.forms} == set(h.choices)
            elif h.type == "boolean":
                assert isinstance(h.default, bool)
            else:
                assert isinstance(h.default, float)
                assert math.isfinite(h.default)
                low = -math.inf if h.minimum is None else h.minimum
                high = math.inf if h.maximum is None else h.maximum
                assert (low < h.default) if h.exclusive_minimum else (low <= h.default)
                assert (h.default < high) if h.exclusive_maximum else (h.default <= high)


def test_defaults_equal_the_core_builders_defaults() -> None:
    for item in CATALOGUE:
        builder = getattr(optimizers, item.name)
        parameters = inspect.signature(builder).parameters
        for h in item.hyperparameters:
            if h.name == "lr":
                continue
            assert parameters[h.name].default == h.default, (item.name, h.name)


def test_range_text() -> None:
    ranges = {h["name"]: h["range"] for h in entry_json("rmsprop")["hyperparameters"]}
    assert ranges == {
        "lr": "(0, ∞)",
        "alpha": "[0, 1)",
        "eps": "[0, ∞)",
        "weight_decay": "[0, ∞)",
        "momentum": "[0, 1]",
        "centered": None,
    }


def test_lookups() -> None:
    assert entry("newton").name == "newton"
    assert "Momentum" in meaning("momentum", "momentum")
    with pytest.raises(KeyError):
        entry("lbfgs")
    with pytest.raises(KeyError):
        meaning("adam", "momentum")


def entry_json(name: str) -> dict[str, Any]:
    return next(item for item in optimizer_catalogue() if item["name"] == name)
