"""Trajectories equal torch.optim's float64 trajectories (fixtures made by
``scripts/make_torch_fixtures.py``) to 1e-12 relative error, step for step."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.expression import ExpressionLimits, compile_expression
from core.losses import Loss
from core.run import StopRule, run, start_iterate
from service.build import build_optimizer, build_schedule
from service.specs import RunSpec

FIXTURES = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "torch_trajectories.json").read_text()
)
SUPPORTED = {"sgd", "adam"}
CASES = [case for case in FIXTURES["cases"] if case["optimizer"]["name"] in SUPPORTED]


class _Compiler:
    def compile(self, text: str, variables: list[str] | None) -> Loss:
        return compile_expression(text, variables, ExpressionLimits())


def test_every_supported_optimizer_has_reference_cases() -> None:
    names = {case["optimizer"]["name"] for case in CASES}
    assert names == SUPPORTED
    assert len(CASES) >= 14
    assert all(case["steps"] >= 200 for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_trajectory_equals_torch(case: dict[str, Any]) -> None:
    spec = RunSpec.model_validate({k: case[k] for k in ("loss", "optimizer", "schedule", "start")})
    loss = _Compiler().compile(spec.loss.expression, spec.loss.variables)
    optimizer = build_optimizer(spec.optimizer, build_schedule(spec.optimizer.lr, spec.schedule))
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
