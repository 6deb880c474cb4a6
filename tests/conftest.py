"""Shared test helpers."""

from __future__ import annotations

import pytest

from core.expression import ExpressionLimits, ExpressionLoss, compile_expression


@pytest.fixture(scope="session")
def compile_loss() -> object:
    """Compiles an expression in-process (the service compiles in a child process)."""
    cache: dict[tuple[str, tuple[str, ...] | None], ExpressionLoss] = {}

    def compile_(text: str, variables: list[str] | None = None) -> ExpressionLoss:
        key = (text, None if variables is None else tuple(variables))
        if key not in cache:
            cache[key] = compile_expression(text, variables, ExpressionLimits())
        return cache[key]

    return compile_
