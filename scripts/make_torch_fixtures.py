"""Write reference optimizer trajectories from ``torch.optim`` to a JSON fixture.

Dev-only: torch is not a dependency of the service and must never be installed into the
project's virtualenv. Run this script from a separate virtualenv outside the repository::

    python3 -m venv /work/torchenv
    /work/torchenv/bin/pip install torch==2.13.0 numpy
    /work/torchenv/bin/python scripts/make_torch_fixtures.py

It writes ``tests/fixtures/torch_trajectories.json``: for every case, the parameters after each
of ``steps`` optimizer steps (row 0 is the start) and the loss at every row, all in float64.
Every step zeroes the gradient, evaluates the loss, back-propagates, calls ``optimizer.step()``
and then, if the case has a schedule, ``scheduler.step()``. Optimizers use torch's default
implementation choice (no ``foreach``/``fused`` argument), which on CPU is the single-tensor
for-loop implementation.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

OUTPUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "torch_trajectories.json"
STEPS = 250
MAX_ABS_PARAM = 100.0
MIN_TRAVEL = 1e-2
MAX_BYTES = 1_500_000

Hyper = float | int | bool
Spec = dict[str, Any]


@dataclass(frozen=True)
class Loss:
    """One objective, written once for the service's parser and once with torch ops."""

    expression: str
    variables: tuple[str, ...]
    start: tuple[float, ...]
    torch_fn: Callable[[torch.Tensor], torch.Tensor]


def _rosenbrock(p: torch.Tensor) -> torch.Tensor:
    x, y = p[0], p[1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def _smooth3(p: torch.Tensor) -> torch.Tensor:
    x, y, z = p[0], p[1], p[2]
    return (
        torch.log(1 + x**2)
        + 2 * (y - 0.5) ** 2
        + (z + 1) ** 4 / 4
        + 0.3 * torch.sin(x * y)
        + 0.1 * z**2
    )


def _quadratic(p: torch.Tensor) -> torch.Tensor:
    x, y = p[0], p[1]
    return 0.5 * x**2 + 10 * y**2


LOSSES: dict[str, Loss] = {
    "rosenbrock": Loss("(1 - x)**2 + 100*(y - x**2)**2", ("x", "y"), (-1.2, 1.0), _rosenbrock),
    "smooth3": Loss(
        "log(1 + x**2) + 2*(y - 0.5)**2 + (z + 1)**4/4 + 0.3*sin(x*y) + 0.1*z**2",
        ("x", "y", "z"),
        (2.0, -1.5, 1.0),
        _smooth3,
    ),
    "quadratic": Loss("0.5*x**2 + 10*y**2", ("x", "y"), (3.0, 1.0), _quadratic),
}

# torch's defaults under the API's field names (Adam-style ``betas`` split into beta1/beta2).
DEFAULTS: dict[str, dict[str, Hyper]] = {
    "sgd": {"lr": 1e-3, "momentum": 0.0, "dampening": 0.0, "nesterov": False, "weight_decay": 0.0},
    "adam": {
        "lr": 1e-3,
        "beta1": 0.9,
        "beta2": 0.999,
        "eps": 1e-8,
        "weight_decay": 0.0,
        "amsgrad": False,
        "bias_correction": True,
    },
    "adamw": {
        "lr": 1e-3,
        "beta1": 0.9,
        "beta2": 0.999,
        "eps": 1e-8,
        "weight_decay": 0.01,
        "amsgrad": False,
        "bias_correction": True,
    },
    "adagrad": {
        "lr": 1e-2,
        "lr_decay": 0.0,
        "weight_decay": 0.0,
        "initial_accumulator_value": 0.0,
        "eps": 1e-10,
    },
    "rmsprop": {
        "lr": 1e-2,
        "alpha": 0.99,
        "eps": 1e-8,
        "weight_decay": 0.0,
        "momentum": 0.0,
        "centered": False,
    },
    "nadam": {
        "lr": 2e-3,
        "beta1": 0.9,
        "beta2": 0.999,
        "eps": 1e-8,
        "weight_decay": 0.0,
        "momentum_decay": 4e-3,
        "decoupled_weight_decay": False,
    },
    "radam": {
        "lr": 1e-3,
        "beta1": 0.9,
        "beta2": 0.999,
        "eps": 1e-8,
        "weight_decay": 0.0,
        "decoupled_weight_decay": False,
    },
    "adamax": {"lr": 2e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0},
}

TORCH_OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "adagrad": torch.optim.Adagrad,
    "rmsprop": torch.optim.RMSprop,
    "nadam": torch.optim.NAdam,
    "radam": torch.optim.RAdam,
    "adamax": torch.optim.Adamax,
}


@dataclass(frozen=True)
class Case:
    """One fixture case: an optimizer (API name plus non-default hyperparameters) on a loss."""

    name: str
    optimizer: str
    loss: str
    hyper: dict[str, Hyper]
    schedule: Spec | None = None


def _step(step_size: int, gamma: float) -> Spec:
    return {"type": "step", "step_size": step_size, "gamma": gamma}


def _exponential(gamma: float) -> Spec:
    return {"type": "exponential", "gamma": gamma}


def _cosine(t_max: int, eta_min: float) -> Spec:
    return {"type": "cosine", "t_max": t_max, "eta_min": eta_min}


CASES: tuple[Case, ...] = (
    # SGD
    Case("sgd_plain_quadratic", "sgd", "quadratic", {"lr": 0.04}),
    Case("sgd_plain_smooth3", "sgd", "smooth3", {"lr": 0.05}),
    Case("sgd_momentum_rosenbrock", "sgd", "rosenbrock", {"lr": 5e-4, "momentum": 0.9}),
    Case(
        "sgd_momentum_dampening_smooth3",
        "sgd",
        "smooth3",
        {"lr": 0.02, "momentum": 0.9, "dampening": 0.3},
    ),
    Case(
        "sgd_nesterov_quadratic",
        "sgd",
        "quadratic",
        {"lr": 0.01, "momentum": 0.9, "nesterov": True},
    ),
    Case(
        "sgd_nesterov_rosenbrock",
        "sgd",
        "rosenbrock",
        {"lr": 5e-4, "momentum": 0.9, "nesterov": True},
    ),
    Case(
        "sgd_weight_decay_momentum_smooth3",
        "sgd",
        "smooth3",
        {"lr": 0.02, "momentum": 0.5, "weight_decay": 0.01},
    ),
    # Adam
    Case("adam_default_rosenbrock", "adam", "rosenbrock", {"lr": 0.01}),
    Case("adam_default_quadratic", "adam", "quadratic", {"lr": 0.05}),
    Case(
        "adam_betas_eps_smooth3",
        "adam",
        "smooth3",
        {"lr": 0.02, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6},
    ),
    Case("adam_amsgrad_rosenbrock", "adam", "rosenbrock", {"lr": 0.01, "amsgrad": True}),
    Case("adam_weight_decay_smooth3", "adam", "smooth3", {"lr": 0.02, "weight_decay": 0.05}),
    Case("adam_low_beta1_quadratic", "adam", "quadratic", {"lr": 0.02, "beta1": 0.3, "beta2": 0.9}),
    # AdamW
    Case("adamw_default_smooth3", "adamw", "smooth3", {"lr": 0.02}),
    Case("adamw_weight_decay_rosenbrock", "adamw", "rosenbrock", {"lr": 0.01, "weight_decay": 0.1}),
    Case(
        "adamw_amsgrad_quadratic",
        "adamw",
        "quadratic",
        {"lr": 0.05, "amsgrad": True, "weight_decay": 0.05},
    ),
    # Adagrad
    Case("adagrad_default_quadratic", "adagrad", "quadratic", {"lr": 0.5}),
    Case(
        "adagrad_lr_decay_smooth3",
        "adagrad",
        "smooth3",
        {"lr": 0.3, "lr_decay": 0.01, "initial_accumulator_value": 0.1},
    ),
    Case(
        "adagrad_weight_decay_rosenbrock",
        "adagrad",
        "rosenbrock",
        {"lr": 0.2, "weight_decay": 0.01, "eps": 1e-8},
    ),
    # RMSprop
    Case("rmsprop_default_quadratic", "rmsprop", "quadratic", {"lr": 0.01}),
    Case(
        "rmsprop_centered_momentum_smooth3",
        "rmsprop",
        "smooth3",
        {"lr": 0.005, "momentum": 0.9, "centered": True},
    ),
    Case(
        "rmsprop_alpha_weight_decay_rosenbrock",
        "rmsprop",
        "rosenbrock",
        {"lr": 5e-4, "alpha": 0.9, "weight_decay": 0.01},
    ),
    Case(
        "rmsprop_momentum_quadratic",
        "rmsprop",
        "quadratic",
        {"lr": 0.005, "momentum": 0.5, "eps": 1e-6},
    ),
    # NAdam
    Case("nadam_default_smooth3", "nadam", "smooth3", {"lr": 0.02}),
    Case(
        "nadam_momentum_decay_rosenbrock",
        "nadam",
        "rosenbrock",
        {"lr": 0.01, "momentum_decay": 0.01, "weight_decay": 0.01},
    ),
    Case(
        "nadam_decoupled_quadratic",
        "nadam",
        "quadratic",
        {
            "lr": 0.05,
            "beta1": 0.8,
            "beta2": 0.99,
            "weight_decay": 0.05,
            "decoupled_weight_decay": True,
        },
    ),
    # RAdam
    Case("radam_default_quadratic", "radam", "quadratic", {"lr": 0.03}),
    Case(
        "radam_betas_weight_decay_smooth3",
        "radam",
        "smooth3",
        {"lr": 0.05, "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.01},
    ),
    Case(
        "radam_decoupled_rosenbrock",
        "radam",
        "rosenbrock",
        {"lr": 1e-3, "weight_decay": 0.05, "decoupled_weight_decay": True},
    ),
    # Adamax
    Case("adamax_default_rosenbrock", "adamax", "rosenbrock", {"lr": 0.02}),
    Case(
        "adamax_weight_decay_eps_smooth3",
        "adamax",
        "smooth3",
        {"lr": 0.05, "beta1": 0.3, "weight_decay": 0.01, "eps": 1e-6},
    ),
    Case("adamax_default_quadratic", "adamax", "quadratic", {"lr": 0.05}),
    # Learning-rate schedules
    Case(
        "sgd_momentum_step_smooth3", "sgd", "smooth3", {"lr": 0.05, "momentum": 0.9}, _step(30, 0.5)
    ),
    Case(
        "sgd_nesterov_cosine_quadratic",
        "sgd",
        "quadratic",
        {"lr": 0.02, "momentum": 0.9, "nesterov": True},
        _cosine(100, 0.001),
    ),
    Case("adam_cosine_rosenbrock", "adam", "rosenbrock", {"lr": 0.02}, _cosine(100, 0.001)),
    Case("adam_step_smooth3", "adam", "smooth3", {"lr": 0.05}, _step(40, 0.7)),
    Case("rmsprop_exponential_smooth3", "rmsprop", "smooth3", {"lr": 0.02}, _exponential(0.99)),
    Case(
        "rmsprop_momentum_cosine_quadratic",
        "rmsprop",
        "quadratic",
        {"lr": 0.01, "momentum": 0.5},
        _cosine(150, 0.0),
    ),
)


def optimizer_spec(case: Case) -> dict[str, Hyper | str]:
    """The case's optimizer in API form: its name and every hyperparameter, explicitly."""
    defaults = DEFAULTS[case.optimizer]
    unknown = set(case.hyper) - set(defaults)
    if unknown:
        raise ValueError(f"{case.name}: unknown hyperparameters {sorted(unknown)}")
    return {"name": case.optimizer, **defaults, **case.hyper}


def make_optimizer(param: torch.Tensor, spec: dict[str, Hyper | str]) -> torch.optim.Optimizer:
    kwargs: dict[str, Any] = {
        key: value for key, value in spec.items() if key not in ("name", "bias_correction")
    }
    if "beta1" in kwargs:
        kwargs["betas"] = (kwargs.pop("beta1"), kwargs.pop("beta2"))
    return TORCH_OPTIMIZERS[str(spec["name"])]([param], **kwargs)


def make_scheduler(
    optimizer: torch.optim.Optimizer, spec: Spec | None
) -> torch.optim.lr_scheduler.LRScheduler | None:
    if spec is None:
        return None
    sched = torch.optim.lr_scheduler
    if spec["type"] == "step":
        return sched.StepLR(optimizer, step_size=spec["step_size"], gamma=spec["gamma"])
    if spec["type"] == "exponential":
        return sched.ExponentialLR(optimizer, gamma=spec["gamma"])
    if spec["type"] == "cosine":
        return sched.CosineAnnealingLR(optimizer, T_max=spec["t_max"], eta_min=spec["eta_min"])
    raise ValueError(f"unknown schedule type {spec['type']!r}")


def run_case(case: Case, steps: int = STEPS) -> Spec:
    """Run one case in torch and return it in fixture form."""
    loss = LOSSES[case.loss]
    spec = optimizer_spec(case)
    param = torch.tensor(loss.start, dtype=torch.float64, requires_grad=True)
    optimizer = make_optimizer(param, spec)
    scheduler = make_scheduler(optimizer, case.schedule)
    params: list[list[float]] = [param.detach().tolist()]
    loss_values: list[float] = []
    for _ in range(steps):
        optimizer.zero_grad()
        value = loss.torch_fn(param)
        value.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        loss_values.append(value.item())
        params.append(param.detach().tolist())
    with torch.no_grad():
        loss_values.append(loss.torch_fn(param).item())
    return {
        "name": case.name,
        "loss": {
            "type": "expression",
            "expression": loss.expression,
            "variables": list(loss.variables),
        },
        "optimizer": spec,
        "schedule": case.schedule,
        "start": list(loss.start),
        "steps": steps,
        "params": params,
        "loss_values": loss_values,
    }


def check_case(result: Spec) -> None:
    """Reject a trajectory that is not finite, blows up, hardly moves or does not descend.

    A coordinate that lands exactly on 0.0 is rejected too: relative comparisons against it
    would be ill-posed.
    """
    name, params, loss_values = result["name"], result["params"], result["loss_values"]
    if len(params) != result["steps"] + 1 or len(loss_values) != len(params):
        raise ValueError(f"{name}: wrong number of rows")
    coordinates = [v for row in params for v in row]
    if not all(math.isfinite(v) for v in coordinates + loss_values):
        raise ValueError(f"{name}: non-finite value in trajectory")
    if max(abs(v) for v in coordinates) > MAX_ABS_PARAM:
        raise ValueError(f"{name}: parameters blow up")
    if 0.0 in coordinates:
        raise ValueError(f"{name}: a coordinate is exactly 0.0")
    if math.dist(params[0], params[-1]) < MIN_TRAVEL:
        raise ValueError(f"{name}: parameters hardly move")
    if loss_values[-1] >= loss_values[0]:
        raise ValueError(f"{name}: loss does not decrease")


def main() -> None:
    torch.set_default_dtype(torch.float64)
    names = [case.name for case in CASES]
    if len(set(names)) != len(names):
        raise ValueError("duplicate case names")
    results = [run_case(case) for case in CASES]
    for result in results:
        check_case(result)
    fixture = {"torch_version": torch.__version__, "cases": results}
    text = json.dumps(fixture, allow_nan=False, separators=(",", ":")) + "\n"
    if json.loads(text) != fixture:
        raise ValueError("fixture does not round-trip through JSON")
    size = len(text.encode("utf-8"))
    if size > MAX_BYTES:
        raise ValueError(f"fixture too large: {size} bytes")
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")

    print(f"wrote {OUTPUT} ({size / 1e6:.2f} MB, {len(results)} cases, torch {torch.__version__})")
    print(f"{'case':<40} {'optimizer':<9} {'loss':<11} {'schedule':<12} {'final loss':>12}")
    for case, result in zip(CASES, results, strict=True):
        schedule = case.schedule["type"] if case.schedule else "-"
        final = result["loss_values"][-1]
        print(f"{case.name:<40} {case.optimizer:<9} {case.loss:<11} {schedule:<12} {final:>12.6g}")


if __name__ == "__main__":
    main()
