"""Plain functions the tests share."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.expression import ExpressionLimits, ExpressionLoss, compile_expression


def rosenbrock(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2-D Rosenbrock value and gradient, written by hand."""
    x, y = theta[..., 0], theta[..., 1]
    value = (1 - x) ** 2 + 100 * (y - x * x) ** 2
    grad = np.stack([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)], axis=-1)
    return value, grad


class InProcessCompiler:
    """Compiles expressions in this process (the service's compiler uses a child process)."""

    def compile(self, text: str, variables: Sequence[str] | None) -> ExpressionLoss:
        return compile_expression(text, variables, ExpressionLimits())
