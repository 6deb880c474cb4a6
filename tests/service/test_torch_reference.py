"""Trajectories equal torch.optim's float64 trajectories (fixtures made by
``scripts/make_torch_fixtures.py``) to 1e-12 relative error, step for step."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.run import StopRule, run, start_iterate
from service.build import build_loss, build_optimizer, build_schedule
from service.settings import Settings
from service.specs import RunSpec
from tests.helpers import InProcessCompiler

FIXTURES = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "torch_trajectories.json").read_text()
)
SUPPORTED = {"sgd", "adam", "adamw", "adagrad", "rmsprop", "nadam", "radam", "adamax"}
CASES = [case for case in FIXTURES["cases"] if case["optimizer"]["name"] in SUPPORTED]
# torch.optim.SGD with momentum is also the ``momentum`` optimizer's accumulator form, and with
# nesterov=True the ``nesterov`` optimizer's torch form.
SGD_MOMENTUM_CASES = [
    case
    for case in CASES
    if case["optimizer"]["name"] == "sgd"
    and case["optimizer"]["momentum"] > 0
    and case["optimizer"]["dampening"] == 0
    and case["optimizer"]["weight_decay"] == 0
]


def test_every_supported_optimizer_has_reference_cases() -> None:
    names = {case["optimizer"]["name"] for case in CASES}
    assert names == SUPPORTED
    assert FIXTURES["cases"] == CASES, "every fixture case runs"
    assert len(CASES) >= 38
    assert all(case["steps"] >= 200 for case in CASES)
    assert len(SGD_MOMENTUM_CASES) >= 4
    assert any(case["optimizer"]["nesterov"] for case in SGD_MOMENTUM_CASES)


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_trajectory_equals_torch(case: dict[str, Any]) -> None:
    check_against_torch(case, case["optimizer"])


@pytest.mark.parametrize("case", SGD_MOMENTUM_CASES, ids=[c["name"] for c in SGD_MOMENTUM_CASES])
def test_torch_forms_of_momentum_and_nesterov_equal_torch_sgd(case: dict[str, Any]) -> None:
    sgd = case["optimizer"]
    name = "nesterov" if sgd["nesterov"] else "momentum"
    form = "torch" if sgd["nesterov"] else "accumulator"
    check_against_torch(
        case, {"name": name, "lr": sgd["lr"], "momentum": sgd["momentum"], "form": form}
    )


def check_against_torch(case: dict[str, Any], optimizer_spec: dict[str, Any]) -> None:
    body = {k: case[k] for k in ("loss", "schedule", "start")}
    spec = RunSpec.model_validate({**body, "optimizer": optimizer_spec})
    loss = build_loss(spec.loss, InProcessCompiler(), Settings())
    schedule = build_schedule(spec.optimizer.lr, spec.schedule)
    optimizer = build_optimizer(spec.optimizer, schedule, loss)
    steps = case["steps"]
    result = run(
        loss, optimizer, start_iterate(loss, optimizer, np.array([spec.start])),
        StopRule(max_steps=steps), steps=steps,
    )  # fmt: skip
    expected = np.array(case["params"])
    ours = result.trajectory.params[:, 0]
    assert ours.shape == expected.shape
    scale = np.abs(expected).max()
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-12 * scale)
    np.testing.assert_allclose(
        result.trajectory.loss[:, 0], case["loss_values"], rtol=1e-12, atol=1e-15
    )
    assert np.linalg.norm(expected[-1] - expected[0]) > 1e-3
