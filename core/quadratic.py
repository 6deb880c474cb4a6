"""The quadratic loss f(θ) = ½ θᵀAθ + bᵀθ + c, and the naming convention for coordinates.

Coordinates are named ``x, y`` when n = 2 and ``x1, x2, ..., xn`` otherwise (n = 1 included);
the built-in test functions (:mod:`core.builtins`) follow the same rule.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from core.losses import Array

__all__ = ["QuadraticLoss", "coordinate_names"]


def coordinate_names(n: int) -> tuple[str, ...]:
    """``("x", "y")`` for n = 2, else ``("x1", ..., "xn")``."""
    if n == 2:
        return ("x", "y")
    return tuple(f"x{i}" for i in range(1, n + 1))


class QuadraticLoss:
    """f(θ) = ½ θᵀAθ + bᵀθ + c, ∇f(θ) = Aθ + b, ∇²f(θ) = A, with A replaced by (A + Aᵀ)/2.

    The antisymmetric part of A adds nothing to θᵀAθ, so symmetrising changes neither the
    value nor anything a user can observe, and makes Aθ + b the true gradient.
    ``A`` must be a finite square n×n matrix (n ≥ 1), ``b`` a finite vector of length n
    (zeros when omitted) and ``c`` a finite number; anything else raises ``ValueError``.
    """

    def __init__(self, A: ArrayLike, b: ArrayLike | None = None, c: float = 0.0) -> None:
        matrix = _as_float_array(A, "A")
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] == 0:
            raise ValueError(f"A must be a square n×n matrix with n ≥ 1; got shape {matrix.shape}")
        n = int(matrix.shape[0])
        if not np.isfinite(matrix).all():
            raise ValueError("A must contain only finite numbers")
        vector = np.zeros(n) if b is None else _as_float_array(b, "b")
        if vector.shape != (n,):
            raise ValueError(
                f"b must be a vector of length {n} (the size of A); got shape {vector.shape}"
            )
        if not np.isfinite(vector).all():
            raise ValueError("b must contain only finite numbers")
        constant = _as_float_array(c, "c")
        if constant.shape != ():
            raise ValueError(f"c must be a single number; got shape {constant.shape}")
        if not np.isfinite(constant):
            raise ValueError("c must be a finite number")

        # Halves first: (A + Aᵀ)/2 overflows for entries near the largest double, whereas the
        # sum of the halves cannot, and equals it wherever no entry is subnormal.
        symmetric = matrix / 2 + matrix.T / 2
        symmetric.flags.writeable = False
        vector.flags.writeable = False
        self._A: Array = symmetric
        self._b: Array = vector
        self._c = float(constant)
        self._n = n
        self._names = coordinate_names(n)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (np.array(self._A), np.array(self._b), self._c))

    @property
    def A(self) -> Array:  # noqa: N802 (the matrix's name in the formula)
        """The symmetrised matrix (read-only)."""
        return self._A

    @property
    def b(self) -> Array:
        """The linear coefficients (read-only)."""
        return self._b

    @property
    def c(self) -> float:
        """The constant term."""
        return self._c

    @property
    def dim(self) -> int:
        """n, the number of coordinates."""
        return self._n

    @property
    def names(self) -> tuple[str, ...]:
        """``("x", "y")`` for n = 2, else ``("x1", ..., "xn")``."""
        return self._names

    def _checked(self, theta: Array) -> Array:
        theta = np.asarray(theta, dtype=np.float64)
        if theta.ndim == 0 or theta.shape[-1] != self._n:
            raise ValueError(f"theta must have shape (..., {self._n}); got {theta.shape}")
        return theta

    def value(self, theta: Array) -> Array:
        """½ θᵀAθ + bᵀθ + c with shape ``theta.shape[:-1]``."""
        theta = self._checked(theta)
        with np.errstate(all="ignore"):
            # θ·(½Aθ + b) needs one matrix product and one reduction.
            value = np.einsum("...i,...i->...", theta, 0.5 * (theta @ self._A) + self._b)
            return np.asarray(value + self._c, dtype=np.float64)

    def value_and_grad(self, theta: Array) -> tuple[Array, Array]:
        """(½ θᵀAθ + bᵀθ + c, Aθ + b) with shapes ``theta.shape[:-1]`` and ``theta.shape``."""
        theta = self._checked(theta)
        with np.errstate(all="ignore"):
            product = theta @ self._A
            grad = product + self._b
            value = np.einsum("...i,...i->...", theta, 0.5 * product + self._b) + self._c
            return np.asarray(value, dtype=np.float64), grad

    def hessian(self, theta: Array) -> Array:
        """A, repeated over the batch: shape ``theta.shape + (n,)``."""
        theta = self._checked(theta)
        return np.broadcast_to(self._A, (*theta.shape, self._n)).copy()

    def minimizer(self) -> Array | None:
        """−A⁻¹b, the unique minimiser, when A is positive definite; otherwise None.

        Positive definiteness is decided by a Cholesky factorisation; a semidefinite or
        indefinite A has no unique minimiser (the loss is flat along a direction, or unbounded
        below).
        """
        try:
            np.linalg.cholesky(self._A)
        except np.linalg.LinAlgError:
            return None
        return np.asarray(np.linalg.solve(self._A, -self._b), dtype=np.float64)


def _as_float_array(data: ArrayLike, name: str) -> Array:
    try:
        return np.array(data, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be an array of real numbers ({err})") from None
