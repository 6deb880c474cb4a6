"""The ready-made lessons: request bodies with explanations of what their answers show."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.schemas import ExampleCatalogue, ExampleOut
from service import examples as lessons

router = APIRouter(prefix="/v1/examples", tags=["examples"])


@router.get("", response_model=ExampleCatalogue)
def list_examples() -> dict[str, Any]:
    """Every ready-made lesson: its request, explanation and claim."""
    return {"examples": [example.model_dump() for example in lessons.list_examples()]}


@router.get("/{example_id}", response_model=ExampleOut)
def get_example(example_id: str) -> dict[str, Any]:
    """One ready-made lesson by id."""
    return lessons.get_example(example_id).model_dump()
