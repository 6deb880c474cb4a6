"""The lesson catalogue: well-formed entries whose requests the specs accept as they are."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter

from service.build import build_stop
from service.datasets import build_dataset
from service.errors import NotFound
from service.examples import EXAMPLES, Example, get_example, list_examples
from service.settings import Settings
from service.specs import BatchRunSpec, DatasetLossSpec, FiniteFloat, LossSpec, RunSpec

SEEDS = {"000", "001", "002", "003", "004"}
# A lesson is one click away: its runs on data stay small enough to answer well within a second.
MOST_EXAMPLES = 300
MOST_STEPS = 5000


def bodies(example: Example) -> list[dict[str, object]]:
    return example.request if isinstance(example.request, list) else [example.request]


def test_ids_are_unique_and_found() -> None:
    ids = [example.id for example in list_examples()]
    assert len(ids) == len(set(ids)) >= 8
    for example in EXAMPLES:
        assert get_example(example.id) is example


def test_an_unknown_id_is_not_found() -> None:
    with pytest.raises(NotFound, match="no-such-lesson"):
        get_example("no-such-lesson")


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.id for example in EXAMPLES])
def test_the_requests_are_valid_as_they_are(example: Example) -> None:
    assert set(example.seeds) <= SEEDS
    assert example.claim.statement
    assert example.claim.expect
    if example.endpoint == "/v1/runs/batch":
        (body,) = bodies(example)
        batch = BatchRunSpec.model_validate(body)
        assert len(example.labels) == len(batch.optimizers) * len(batch.starts)
    elif example.endpoint == "/v1/runs":
        for body in bodies(example):
            RunSpec.model_validate(body)
        assert len(example.labels) == len(bodies(example))
    else:
        for body in bodies(example):
            assert set(body) == {"loss", "point"}
            TypeAdapter(LossSpec).validate_python(body["loss"])
            TypeAdapter(list[FiniteFloat]).validate_python(body["point"])
        assert len(example.labels) == len(bodies(example))


def on_data(example: Example) -> bool:
    return any(
        isinstance(loss := body["loss"], dict) and loss["type"] == "dataset"
        for body in bodies(example)
    )


DATASET_LESSONS = [example for example in EXAMPLES if on_data(example)]


def test_there_are_lessons_on_data() -> None:
    assert len(DATASET_LESSONS) >= 4


@pytest.mark.parametrize("example", DATASET_LESSONS, ids=[e.id for e in DATASET_LESSONS])
def test_the_dataset_lessons_build_and_stay_small(example: Example) -> None:
    settings = Settings()
    for body in bodies(example):
        spec = RunSpec.model_validate(body)
        assert isinstance(spec.loss, DatasetLossSpec)
        setup = build_dataset(spec.loss, settings)
        assert setup.batches.size <= MOST_EXAMPLES
        rule = build_stop(
            spec.stop, settings.default_max_steps, settings, setup.batches.steps_per_epoch
        )
        assert rule.max_steps <= MOST_STEPS
        if spec.start is not None:
            assert len(spec.start) == len(setup.loss.names)
