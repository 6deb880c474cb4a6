"""GET /v1/examples, and every lesson's claim checked against the service's real answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.examples import EXAMPLES, Example

FIELDS = {"id", "title", "seeds", "explanation", "endpoint", "request", "labels", "claim"}
SEEDS = {"000", "001", "002", "003", "004"}


def send(client: TestClient, example: Example) -> list[Any]:
    """The lesson's answers, one per request body, each checked for a 200 first."""
    bodies = example.request if isinstance(example.request, list) else [example.request]
    answers = []
    for body in bodies:
        response = client.post(example.endpoint, json=body)
        assert response.status_code == 200, response.text
        answers.append(response.json())
    return answers


def runs_of(client: TestClient, example: Example) -> list[Any]:
    """The runs of a lesson: a batch's (one start each, so in optimizer order) or the runs'."""
    answers = send(client, example)
    if example.endpoint == "/v1/runs/batch":
        (answer,) = answers
        runs: list[Any] = answer["runs"]
    else:
        runs = answers
    assert len(runs) == len(example.labels)
    return runs


def column(run: Any, name: str) -> np.ndarray:
    """A trajectory column as floats (null entries, e.g. step 0's update, become NaN)."""
    return np.array(run["trajectory"][name], dtype=float)


def statuses(runs: list[Any]) -> list[str]:
    return [run["status"] for run in runs]


def classifications(runs: list[Any]) -> list[str]:
    return [run["analysis"]["classification"] for run in runs]


def check_learning_rate_sizes(client: TestClient, example: Example) -> None:
    expect = example.claim.expect
    runs = runs_of(client, example)
    assert statuses(runs) == expect["status"]
    xs = [column(run, "params")[:, 0] for run in runs]
    flips = [bool(np.all(x[1:] * x[:-1] < 0)) for x in xs]
    assert flips == expect["overshoots_every_step"]
    small, right, large, _ = runs
    losses = column(small, "loss")
    assert losses[-1] / losses[0] > expect["too_small_loss_fraction_above"]
    assert right["steps"] <= expect["right_steps_at_most"]
    assert bool(np.all(np.diff(column(right, "loss")) < 0))
    assert large["steps"] >= expect["too_large_step_ratio_at_least"] * right["steps"]


def check_momentum_through_local_minimum(client: TestClient, example: Example) -> None:
    expect = example.claim.expect
    gd, momentum = runs = runs_of(client, example)
    assert statuses(runs) == expect["status"]
    for run, x in zip(runs, expect["final_x"], strict=True):
        assert run["final"]["params"][0] == pytest.approx(x, abs=expect["tolerance"])
        assert run["analysis"]["classification"] == "local_minimum"
    assert gd["final"]["loss"] - momentum["final"]["loss"] > expect["loss_gap_above"]


def check_momentum_escapes_saddle(client: TestClient, example: Example) -> None:
    expect = example.claim.expect
    runs = runs_of(client, example)
    escapes = []
    for run in runs:
        far = np.abs(column(run, "params")[:, 1]) > expect["escape_abs_y"]
        assert far.any()
        escapes.append(int(np.argmax(far)))
    gd_escape, momentum_escape = escapes
    assert momentum_escape <= expect["step_ratio_at_most"] * gd_escape
    assert classifications(runs) == expect["classification"]
    for run in runs:
        assert run["final"]["loss"] == pytest.approx(expect["final_loss"], abs=1e-9)


def check_momentum_forms_under_schedule(client: TestClient, example: Example) -> None:
    expect = example.claim.expect
    velocity, accumulator = runs_of(client, example)
    assert velocity["trajectory"]["step"] == accumulator["trajectory"]["step"]
    gap = np.abs(column(velocity, "params") - column(accumulator, "params")).max(axis=1)
    split = expect["same_through_step"] + 1
    assert gap[:split].max() <= expect["same_tolerance"]
    assert gap[split:].max() > expect["difference_above"]


def check_nesterov_vs_momentum(client: TestClient, example: Example) -> None:
    expect = example.claim.expect
    momentum, nesterov = runs = runs_of(client, example)
    assert statuses(runs) == expect["status"]
    assert nesterov["steps"] <= expect["step_ratio_at_most"] * momentum["steps"]
    rises = [int(np.sum(np.diff(column(run, "loss")) > 0)) for run in runs]
    assert rises[1] < expect["loss_increase_ratio_below"] * rises[0]


def check_adagrad_stalls(client: TestClient, example: Example) -> None:
    expect = example.claim.expect
    adagrad, *others = runs = runs_of(client, example)
    assert statuses(runs) == expect["status"]
    best = max(run["final"]["loss"] for run in others)
    assert adagrad["final"]["loss"] > expect["loss_ratio_above"] * best
    accumulator = np.array(adagrad["trajectory"]["state"]["sum"], dtype=float)
    assert bool(np.all(np.diff(accumulator, axis=0) >= 0))
    assert bool(np.all(accumulator[-1] > 100 * accumulator[1]))
    steps = np.linalg.norm(column(adagrad, "update")[1:], axis=1)
    assert steps[-1] < expect["last_step_fraction_below"] * steps[0]


def check_adam_bias_correction(client: TestClient, example: Example) -> None:
    expect = example.claim.expect
    runs = runs_of(client, example)
    assert isinstance(example.request, dict)
    rates = [optimizer["lr"] for optimizer in example.request["optimizers"]]
    first = [np.abs(column(run, "update")[1]) for run in runs]
    for pair in expect["first_update_ratio"]:
        corrected, uncorrected = first[pair["corrected"]], first[pair["uncorrected"]]
        in_lr = corrected / rates[pair["corrected"]]
        np.testing.assert_allclose(in_lr, expect["corrected_first_step_in_lr"], rtol=1e-6)
        ratio = np.linalg.norm(uncorrected) / np.linalg.norm(corrected)
        assert ratio == pytest.approx(pair["predicted"], rel=1e-6)
        assert ratio < pair.get("below", np.inf)
        assert ratio > pair.get("above", -np.inf)


def check_hessian_classifies_critical_points(client: TestClient, example: Example) -> None:
    expect = example.claim.expect
    answers = send(client, example)
    assert len(answers) == len(example.labels)
    assert [answer["classification"] for answer in answers] == expect["classification"]
    for answer, direction in zip(answers, expect["escape_direction"], strict=True):
        if direction is None:
            assert answer["escape_direction"] is None
        else:
            np.testing.assert_allclose(answer["escape_direction"], direction, atol=1e-12)


def check_schedule_tames_large_learning_rate(client: TestClient, example: Example) -> None:
    expect = example.claim.expect
    large, small, scheduled = runs = runs_of(client, example)
    assert statuses(runs) == expect["status"]
    assert large["final"]["loss"] >= expect["large_final_loss_at_least"]
    assert scheduled["steps"] <= expect["scheduled_step_ratio_at_most"] * small["steps"]


def check_newton_drawn_to_saddle(client: TestClient, example: Example) -> None:
    expect = example.claim.expect
    runs = runs_of(client, example)
    assert statuses(runs) == expect["status"]
    assert classifications(runs) == expect["classification"]
    for run, loss in zip(runs, expect["final_loss"], strict=True):
        assert run["final"]["loss"] == pytest.approx(loss, abs=1e-9)


def check_converged_at_a_saddle(client: TestClient, example: Example) -> None:
    expect = example.claim.expect
    runs = runs_of(client, example)
    assert statuses(runs) == expect["status"]
    assert classifications(runs) == expect["classification"]
    np.testing.assert_allclose(runs[0]["analysis"]["escape_direction"],
                               expect["escape_direction"], atol=1e-12)  # fmt: skip


def bodies_of(example: Example) -> list[Any]:
    return example.request if isinstance(example.request, list) else [example.request]


def fraction_left(run: Any) -> float:
    """The final loss as a fraction of the loss at the start."""
    losses = column(run, "loss")
    return float(losses[-1] / losses[0])


def rising_fraction(run: Any) -> float:
    """The fraction of the recorded steps on which the full-data loss went up."""
    return float(np.mean(np.diff(column(run, "loss")) > 0))


def check_batch_size_noise_and_cost(client: TestClient, example: Example) -> None:
    expect = example.claim.expect
    runs = runs_of(client, example)
    assert statuses(runs) == expect["status"]
    assert [run["dataset"]["steps_per_epoch"] for run in runs] == expect["steps_per_epoch"]
    for run in runs:
        assert run["dataset"]["epoch"] == expect["epochs"]
        assert run["steps"] == expect["epochs"] * run["dataset"]["steps_per_epoch"]
        assert run["trajectory"]["epoch"][-1] == expect["epochs"]
    sgd, minibatch, full = runs
    for run in (sgd, minibatch):
        assert (
            run["final"]["loss"] < expect["loss_ratio_to_full_batch_below"] * full["final"]["loss"]
        )
    passed = column(sgd, "loss") < full["final"]["loss"]
    assert passed.any()
    assert column(sgd, "epoch")[np.argmax(passed)] < expect["sgd_passes_full_batch_within_epochs"]
    assert bool(np.all(np.diff(column(full, "loss")) < 0))
    # Every full-batch step sees all the data: its batch loss is the loss where it started.
    np.testing.assert_allclose(
        column(full, "batch_loss")[1:], column(full, "loss")[:-1], rtol=1e-12
    )
    assert rising_fraction(sgd) > expect["sgd_rising_fraction_above"]
    assert rising_fraction(minibatch) < expect["minibatch_rising_fraction_below"]
    last_epoch = column(sgd, "batch_loss")[-sgd["dataset"]["steps_per_epoch"] :]
    spread = expect["sgd_batch_loss_std_over_mean_above"]
    assert np.std(last_epoch) > spread * np.mean(last_epoch)


def check_feature_scaling(client: TestClient, example: Example) -> None:
    expect = example.claim.expect
    raw, scaled = runs = runs_of(client, example)
    assert statuses(runs) == expect["status"]
    low, high = expect["lr_fraction_of_bound"]
    for body, run in zip(bodies_of(example), runs, strict=True):
        # A linear model's MSE has one Hessian everywhere: the final analysis gives its bound.
        assert low <= body["optimizer"]["lr"] / run["analysis"]["stability_bound"] <= high
    assert raw["analysis"]["condition_number"] > expect["raw_condition_number_above"]
    assert scaled["analysis"]["condition_number"] < expect["standardized_condition_number_below"]
    assert scaled["steps"] <= expect["standardized_steps_at_most"]
    assert scaled["analysis"]["classification"] == "local_minimum"
    assert raw["final"]["loss"] > expect["raw_loss_ratio_above"] * scaled["final"]["loss"]
    assert raw["dataset"]["standardization"] is None
    assert scaled["dataset"]["standardization"] is not None


def check_mse_vs_cross_entropy(client: TestClient, example: Example) -> None:
    expect = example.claim.expect
    starts = [body["start"] for body in bodies_of(example)]
    assert all(start == starts[0] for start in starts)
    cross_entropy, mse, adam = runs = runs_of(client, example)
    first = [column(run, "grad_norm")[0] for run in runs]
    assert first[1] < expect["start_gradient_ratio_below"] * first[0]
    assert first[2] == first[1]
    assert fraction_left(cross_entropy) < expect["cross_entropy_fraction_below"]
    assert fraction_left(mse) > expect["mse_sgd_fraction_above"]
    assert fraction_left(adam) < expect["mse_adam_fraction_below"]
    halved = []
    for run in (cross_entropy, adam):
        losses = column(run, "loss")
        below = losses < losses[0] / 2
        assert below.any()
        halved.append(int(np.argmax(below)))
    assert halved[1] >= expect["adam_halving_step_ratio_at_least"] * halved[0]


def check_batch_norm_sigmoid_mlp(client: TestClient, example: Example) -> None:
    expect = example.claim.expect
    plain, normalized = runs = runs_of(client, example)
    assert statuses(runs) == expect["status"]
    assert plain["steps"] == normalized["steps"]
    assert fraction_left(plain) > expect["plain_fraction_above"]
    assert fraction_left(normalized) < expect["normalized_fraction_below"]
    ratio = expect["final_loss_ratio_below"]
    assert normalized["final"]["loss"] < ratio * plain["final"]["loss"]
    first = [column(run, "grad_norm")[0] for run in runs]
    assert first[1] > expect["start_gradient_ratio_above"] * first[0]
    assert "b1[0]" in plain["parameter_names"]
    assert {"gamma1[0]", "beta1[0]", "gamma2[0]"} <= set(normalized["parameter_names"])
    assert plain["dataset"]["model_state"] is None
    second = normalized["dataset"]["model_state"]["running_var"][1]
    assert float(np.mean(second)) < expect["second_layer_running_variance_below"]


CHECKS: dict[str, Callable[[TestClient, Example], None]] = {
    "learning-rate-sizes": check_learning_rate_sizes,
    "momentum-through-local-minimum": check_momentum_through_local_minimum,
    "momentum-escapes-saddle": check_momentum_escapes_saddle,
    "momentum-forms-under-schedule": check_momentum_forms_under_schedule,
    "nesterov-vs-momentum": check_nesterov_vs_momentum,
    "adagrad-stalls": check_adagrad_stalls,
    "adam-bias-correction": check_adam_bias_correction,
    "hessian-classifies-critical-points": check_hessian_classifies_critical_points,
    "schedule-tames-large-learning-rate": check_schedule_tames_large_learning_rate,
    "newton-drawn-to-saddle": check_newton_drawn_to_saddle,
    "converged-at-a-saddle": check_converged_at_a_saddle,
    "batch-size-noise-and-cost": check_batch_size_noise_and_cost,
    "feature-scaling": check_feature_scaling,
    "mse-vs-cross-entropy": check_mse_vs_cross_entropy,
    "batch-norm-sigmoid-mlp": check_batch_norm_sigmoid_mlp,
}


def test_every_lesson_has_a_claim_check() -> None:
    assert sorted(CHECKS) == sorted(example.id for example in EXAMPLES)


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.id for example in EXAMPLES])
def test_the_lesson_claim_holds(client: TestClient, example: Example) -> None:
    CHECKS[example.id](client, example)


def test_list_examples(client: TestClient) -> None:
    response = client.get("/v1/examples")
    assert response.status_code == 200
    examples = response.json()["examples"]
    assert [entry["id"] for entry in examples] == [example.id for example in EXAMPLES]
    for entry, example in zip(examples, EXAMPLES, strict=True):
        assert set(entry) == FIELDS
        assert entry == example.model_dump(mode="json")
        assert entry["title"]
        assert len(entry["explanation"]) > 200
        assert set(entry["seeds"]) <= SEEDS
        assert entry["endpoint"] in {"/v1/runs", "/v1/runs/batch", "/v1/analyze"}
        assert entry["claim"]["statement"]
        assert entry["claim"]["expect"]


def test_get_one_example(client: TestClient) -> None:
    response = client.get("/v1/examples/adagrad-stalls")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == "adagrad-stalls"
    assert body["labels"] == ["AdaGrad", "RMSProp", "Adam"]
    assert body["request"]["optimizers"][0] == {"name": "adagrad", "lr": 0.1}


def test_unknown_example_is_a_404_problem(client: TestClient) -> None:
    response = client.get("/v1/examples/no-such-lesson")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 404
    assert "no-such-lesson" in body["detail"]
