"""The loss protocol every objective implements, and the simple closed-form losses.

Every method is vectorised over leading axes: ``theta`` has shape ``(..., n)``, so a batch of
starting points is just a leading axis. Values are float64.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


class Loss(Protocol):
    """A twice-differentiable scalar function f: Rⁿ → R with exact derivatives."""

    @property
    def names(self) -> tuple[str, ...]:
        """One name per coordinate of θ, in order."""
        ...

    def value(self, theta: Array) -> Array:
        """f(θ) with shape ``theta.shape[:-1]``."""
        ...

    def value_and_grad(self, theta: Array) -> tuple[Array, Array]:
        """(f(θ), ∇f(θ)) with shapes ``theta.shape[:-1]`` and ``theta.shape``."""
        ...

    def hessian(self, theta: Array) -> Array:
        """∇²f(θ) with shape ``theta.shape + (n,)``."""
        ...
