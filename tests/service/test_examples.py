"""The lesson catalogue: well-formed entries whose requests the specs accept as they are."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter

from service.errors import NotFound
from service.examples import EXAMPLES, Example, get_example, list_examples
from service.specs import BatchRunSpec, FiniteFloat, LossSpec, RunSpec

SEEDS = {"000", "001", "002", "003", "004"}


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
