"""The catalogue of classic test functions, with exact hand-written derivatives.

Every entry (:class:`BuiltinFunction`) documents its formula, dimensions, parameters, known
global minima and a plotting box, and can write itself as a formula in the expression grammar
of :mod:`core.expression`. :func:`make_builtin` validates a request and returns a
:class:`BuiltinLoss`, which implements :class:`core.losses.Loss` with value, gradient and
Hessian written out by hand in NumPy and vectorised over leading axes of θ.

Coordinates are named ``x, y`` when n = 2 and ``x1, ..., xn`` otherwise (see
:func:`core.quadratic.coordinate_names`), so 2-D Rosenbrock reads ``(1 - x)**2 + ...``.
"""

from __future__ import annotations

import functools
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, TypedDict

import numpy as np

from core.losses import Array
from core.quadratic import coordinate_names

__all__ = [
    "CATALOGUE",
    "BuiltinDescription",
    "BuiltinFunction",
    "BuiltinLoss",
    "Dims",
    "DimsDescription",
    "Minimum",
    "MinimumDescription",
    "Param",
    "ParamDescription",
    "describe_catalogue",
    "make_builtin",
]

Params = Mapping[str, float]
Scalar = Array | float
"""A coordinate column: a NumPy scalar for one point, an array for a batch."""

_MAX_PARAM: Final = 1e300
_TWO_PI: Final = 2.0 * math.pi


# -- descriptions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Dims:
    """The dimensions n a function accepts: ``minimum ≤ n ≤ maximum`` (None: no upper bound)."""

    minimum: int
    maximum: int | None
    default: int

    @property
    def fixed(self) -> bool:
        """Whether exactly one dimension is allowed."""
        return self.maximum == self.minimum

    def describe(self) -> str:
        """The range in words: "2" when fixed, "≥ 2" when open-ended, else "1 to 8"."""
        if self.fixed:
            return str(self.minimum)
        if self.maximum is None:
            return f"≥ {self.minimum}"
        return f"{self.minimum} to {self.maximum}"


@dataclass(frozen=True)
class Param:
    """A numeric parameter: its default, what it means, and its allowed range.

    ``lower`` is a lower bound (None: any finite number), exclusive when ``strict``.
    """

    default: float
    description: str
    lower: float | None = None
    strict: bool = True

    @property
    def constraint(self) -> str:
        """The allowed range in words."""
        if self.lower is None:
            return "any finite number"
        return f"{'>' if self.strict else '≥'} {_num(self.lower)}"

    def check(self, function: str, name: str, value: object) -> float:
        """The value as a float, or ``ValueError`` naming the function and the parameter."""
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise ValueError(
                f"parameter '{name}' of {function} must be a number; got {type(value).__name__}"
            )
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"parameter '{name}' of {function} must be finite; got {number}")
        if abs(number) > _MAX_PARAM:
            raise ValueError(
                f"parameter '{name}' of {function} is too large (|{name}| must be at most 1e300)"
            )
        if self.lower is not None and (
            number < self.lower or (self.strict and number == self.lower)
        ):
            raise ValueError(
                f"parameter '{name}' of {function} must be {self.constraint}; got {_num(number)}"
            )
        return number


@dataclass(frozen=True)
class Minimum:
    """A global minimiser and f there."""

    point: tuple[float, ...]
    value: float


class DimsDescription(TypedDict):
    """JSON form of :class:`Dims` (``max`` is null when there is no upper bound)."""

    min: int
    max: int | None
    default: int


class ParamDescription(TypedDict):
    """JSON form of :class:`Param`."""

    default: float
    description: str
    constraint: str


class MinimumDescription(TypedDict):
    """JSON form of :class:`Minimum`."""

    point: list[float]
    value: float


class BuiltinDescription(TypedDict):
    """JSON form of a catalogue entry, at its default dimension and parameters."""

    name: str
    title: str
    formula: str
    expression: str
    variables: list[str]
    dims: DimsDescription
    params: dict[str, ParamDescription]
    minima: list[MinimumDescription]
    minima_note: str | None
    domain: list[list[float]]


@dataclass(frozen=True)
class BuiltinFunction:
    """One catalogue entry. Methods taking ``dim`` and ``params`` validate them as
    :func:`make_builtin` does, filling in the default dimension and parameter values."""

    name: str
    title: str
    """One line."""
    formula: str
    """The definition in plain text."""
    dims: Dims
    params: Mapping[str, Param]
    minima_note: str | None
    """What the list of minima leaves out or how it was obtained; None when nothing needs saying."""
    _kernel: _Kernel = field(repr=False, compare=False)

    @property
    def defaults(self) -> dict[str, float]:
        """Parameter name → default value."""
        return {name: param.default for name, param in self.params.items()}

    def resolve(
        self, dim: int | None = None, params: Mapping[str, float] | None = None
    ) -> tuple[int, dict[str, float]]:
        """The validated dimension and the full parameter set; ``ValueError`` when invalid."""
        return self._resolve_dim(dim), self._resolve_params(params or {})

    def _resolve_dim(self, dim: object) -> int:
        if dim is None:
            return self.dims.default
        if isinstance(dim, bool) or not isinstance(dim, int | np.integer):
            raise ValueError(f"dim of {self.name} must be an integer; got {type(dim).__name__}")
        n = int(dim)
        if self.dims.fixed and n != self.dims.minimum:
            raise ValueError(f"{self.name} is {self.dims.minimum}-dimensional; got dim={n}")
        if n < self.dims.minimum or (self.dims.maximum is not None and n > self.dims.maximum):
            raise ValueError(f"dim of {self.name} must be {self.dims.describe()}; got dim={n}")
        return n

    def _resolve_params(self, params: Mapping[str, float]) -> dict[str, float]:
        unknown = [key for key in params if key not in self.params]
        if unknown:
            known = ", ".join(self.params)
            listing = f"its parameters are: {known}" if known else "it takes no parameters"
            raise ValueError(f"unknown parameter '{unknown[0]}' for {self.name}; {listing}")
        resolved = self.defaults
        for key, value in params.items():
            resolved[key] = self.params[key].check(self.name, key, value)
        return resolved

    def variables(self, dim: int | None = None) -> tuple[str, ...]:
        """The coordinate names at this dimension."""
        return coordinate_names(self._resolve_dim(dim))

    def expression(self, dim: int | None = None, params: Mapping[str, float] | None = None) -> str:
        """The function as a formula in the expression grammar, in :meth:`variables` order."""
        n, p = self.resolve(dim, params)
        return self._kernel.expression(coordinate_names(n), p)

    def minima(
        self, dim: int | None = None, params: Mapping[str, float] | None = None
    ) -> list[Minimum]:
        """The global minima (empty when there is none; see ``minima_note``)."""
        n, p = self.resolve(dim, params)
        return self._kernel.minima(n, p)

    def domain(
        self, dim: int | None = None, params: Mapping[str, float] | None = None
    ) -> list[tuple[float, float]]:
        """A plotting box: (low, high) per coordinate, containing every listed minimum."""
        n, p = self.resolve(dim, params)
        return self._kernel.domain(n, p)

    def make(
        self, dim: int | None = None, params: Mapping[str, float] | None = None
    ) -> BuiltinLoss:
        """The loss at this dimension and these parameters."""
        n, p = self.resolve(dim, params)
        return BuiltinLoss(self, n, p)

    def describe(self) -> BuiltinDescription:
        """The JSON-ready description at the default dimension and parameters."""
        n, p = self.resolve()
        return {
            "name": self.name,
            "title": self.title,
            "formula": self.formula,
            "expression": self._kernel.expression(coordinate_names(n), p),
            "variables": list(coordinate_names(n)),
            "dims": {
                "min": self.dims.minimum,
                "max": self.dims.maximum,
                "default": self.dims.default,
            },
            "params": {
                name: {
                    "default": param.default,
                    "description": param.description,
                    "constraint": param.constraint,
                }
                for name, param in self.params.items()
            },
            "minima": [
                {"point": list(m.point), "value": m.value} for m in self._kernel.minima(n, p)
            ],
            "minima_note": self.minima_note,
            "domain": [[low, high] for low, high in self._kernel.domain(n, p)],
        }


class BuiltinLoss:
    """A catalogue function at a fixed dimension and parameters (see :class:`core.losses.Loss`).

    Value, gradient and Hessian are exact closed forms evaluated with NumPy, vectorised over
    the leading axes of θ; floating-point exceptions are silenced (the run loop checks for
    non-finite values itself).
    """

    def __init__(self, function: BuiltinFunction, dim: int, params: Mapping[str, float]) -> None:
        self._function = function
        self._kernel = function._kernel
        self._n = dim
        self._params: dict[str, float] = dict(params)
        self._names = coordinate_names(dim)

    def __reduce__(self) -> tuple[object, ...]:
        return (make_builtin, (self._function.name, self._n, dict(self._params)))

    def __repr__(self) -> str:
        return f"BuiltinLoss({self._function.name!r}, dim={self._n}, params={self._params!r})"

    @property
    def function(self) -> BuiltinFunction:
        """The catalogue entry."""
        return self._function

    @property
    def name(self) -> str:
        """The catalogue name."""
        return self._function.name

    @property
    def dim(self) -> int:
        """n, the number of coordinates."""
        return self._n

    @property
    def params(self) -> Mapping[str, float]:
        """Every parameter's value, defaults included."""
        return MappingProxyType(self._params)

    @property
    def names(self) -> tuple[str, ...]:
        """One name per coordinate of θ, in order."""
        return self._names

    @property
    def expression(self) -> str:
        """The same function as a formula in the expression grammar."""
        return self._kernel.expression(self._names, self._params)

    def minima(self) -> list[Minimum]:
        """The global minima at this dimension and these parameters."""
        return self._kernel.minima(self._n, self._params)

    def domain(self) -> list[tuple[float, float]]:
        """A plotting box, (low, high) per coordinate."""
        return self._kernel.domain(self._n, self._params)

    def _checked(self, theta: Array) -> Array:
        theta = np.asarray(theta, dtype=np.float64)
        if theta.ndim == 0 or theta.shape[-1] != self._n:
            raise ValueError(f"theta must have shape (..., {self._n}); got {theta.shape}")
        return theta

    def value(self, theta: Array) -> Array:
        """f(θ) with shape ``theta.shape[:-1]``."""
        theta = self._checked(theta)
        with np.errstate(all="ignore"):
            return self._kernel.value(theta, self._params)

    def value_and_grad(self, theta: Array) -> tuple[Array, Array]:
        """(f(θ), ∇f(θ)) with shapes ``theta.shape[:-1]`` and ``theta.shape``."""
        theta = self._checked(theta)
        with np.errstate(all="ignore"):
            return self._kernel.value_and_grad(theta, self._params)

    def hessian(self, theta: Array) -> Array:
        """∇²f(θ) with shape ``theta.shape + (n,)``."""
        theta = self._checked(theta)
        with np.errstate(all="ignore"):
            return self._kernel.hessian(theta, self._params)


# -- number formatting -------------------------------------------------------------------------


def _num(value: float) -> str:
    """A float as a literal of the expression grammar: integers without a point, else repr."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _factor(value: float) -> str:
    """A literal safe to use as a factor or power base: negatives are parenthesised."""
    text = _num(value)
    return f"({text})" if value < 0 else text


def _linear(coefficients: Sequence[float], names: Sequence[str]) -> str:
    """c₁*x₁ ± c₂*x₂ ... with each sign folded into its operator."""
    text = ""
    for coefficient, name in zip(coefficients, names, strict=True):
        magnitude = _num(abs(coefficient))
        if not text:
            text = f"{'-' if coefficient < 0 else ''}{magnitude}*{name}"
        else:
            text += f" {'-' if coefficient < 0 else '+'} {magnitude}*{name}"
    return text


# -- array helpers -----------------------------------------------------------------------------


def _filled(shape: tuple[int, ...], value: Scalar) -> Array:
    """``value`` broadcast into a new float64 array of ``shape``."""
    out = np.empty(shape)
    out[...] = value
    return out


def _columns2(theta: Array) -> tuple[Scalar, Scalar]:
    # Indexing a 1-D array with integers gives NumPy scalars, whose arithmetic is several
    # times faster than that of the 0-d arrays ``theta[..., 0]`` would give.
    if theta.ndim == 1:
        return theta[0], theta[1]
    return theta[..., 0], theta[..., 1]


def _diagonal_matrix(diagonal: Array) -> Array:
    """A batch of diagonal matrices, shape ``diagonal.shape + (n,)``."""
    n = diagonal.shape[-1]
    out = np.zeros((*diagonal.shape, n))
    index = np.arange(n)
    out[..., index, index] = diagonal
    return out


# -- kernels -----------------------------------------------------------------------------------


class _Kernel(ABC):
    """The mathematics of one entry; ``p`` always holds every parameter, already validated."""

    @abstractmethod
    def expression(self, names: Sequence[str], p: Params) -> str:
        """The formula in the expression grammar."""

    @abstractmethod
    def minima(self, n: int, p: Params) -> list[Minimum]:
        """The global minima."""

    @abstractmethod
    def domain(self, n: int, p: Params) -> list[tuple[float, float]]:
        """A plotting box."""

    @abstractmethod
    def value(self, theta: Array, p: Params) -> Array:
        """f with shape ``theta.shape[:-1]``."""

    @abstractmethod
    def value_and_grad(self, theta: Array, p: Params) -> tuple[Array, Array]:
        """(f, ∇f)."""

    @abstractmethod
    def hessian(self, theta: Array, p: Params) -> Array:
        """∇²f."""


class _Planar(_Kernel):
    """A function of (x, y): subclasses give f, its gradient and its Hessian entrywise."""

    box: tuple[tuple[float, float], tuple[float, float]] = ((-2.0, 2.0), (-2.0, 2.0))

    @abstractmethod
    def f(self, x: Scalar, y: Scalar, p: Params) -> Scalar:
        """f(x, y)."""

    @abstractmethod
    def fg(self, x: Scalar, y: Scalar, p: Params) -> tuple[Scalar, Scalar, Scalar]:
        """(f, ∂f/∂x, ∂f/∂y)."""

    @abstractmethod
    def h(self, x: Scalar, y: Scalar, p: Params) -> tuple[Scalar, Scalar, Scalar]:
        """(∂²f/∂x², ∂²f/∂x∂y, ∂²f/∂y²)."""

    def domain(self, n: int, p: Params) -> list[tuple[float, float]]:
        return list(self.box)

    def value(self, theta: Array, p: Params) -> Array:
        x, y = _columns2(theta)
        return _filled(theta.shape[:-1], self.f(x, y, p))

    def value_and_grad(self, theta: Array, p: Params) -> tuple[Array, Array]:
        x, y = _columns2(theta)
        value, gx, gy = self.fg(x, y, p)
        if theta.ndim == 1:
            return np.array(value, dtype=np.float64), np.array((gx, gy), dtype=np.float64)
        grad = np.empty(theta.shape)
        grad[..., 0] = gx
        grad[..., 1] = gy
        return _filled(theta.shape[:-1], value), grad

    def hessian(self, theta: Array, p: Params) -> Array:
        x, y = _columns2(theta)
        hxx, hxy, hyy = self.h(x, y, p)
        out = np.empty((*theta.shape, 2))
        out[..., 0, 0] = hxx
        out[..., 0, 1] = hxy
        out[..., 1, 0] = hxy
        out[..., 1, 1] = hyy
        return out


class _Beale(_Planar):
    """f(x, y) = (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²."""

    box = ((-4.5, 4.5), (-4.5, 4.5))

    def expression(self, names: Sequence[str], p: Params) -> str:
        x, y = names
        return (
            f"(1.5 - {x} + {x}*{y})**2 + (2.25 - {x} + {x}*{y}**2)**2 "
            f"+ (2.625 - {x} + {x}*{y}**3)**2"
        )

    def minima(self, n: int, p: Params) -> list[Minimum]:
        return [Minimum((3.0, 0.5), 0.0)]

    def f(self, x: Scalar, y: Scalar, p: Params) -> Scalar:
        y2 = y * y
        u1 = 1.5 - x + x * y
        u2 = 2.25 - x + x * y2
        u3 = 2.625 - x + x * y2 * y
        return u1 * u1 + u2 * u2 + u3 * u3

    def fg(self, x: Scalar, y: Scalar, p: Params) -> tuple[Scalar, Scalar, Scalar]:
        y2 = y * y
        y3 = y2 * y
        u1 = 1.5 - x + x * y
        u2 = 2.25 - x + x * y2
        u3 = 2.625 - x + x * y3
        value = u1 * u1 + u2 * u2 + u3 * u3
        gx = 2 * (u1 * (y - 1) + u2 * (y2 - 1) + u3 * (y3 - 1))
        gy = 2 * x * (u1 + 2 * y * u2 + 3 * y2 * u3)
        return value, gx, gy

    def h(self, x: Scalar, y: Scalar, p: Params) -> tuple[Scalar, Scalar, Scalar]:
        # f = Σ uᵢ², so H = 2 Σ (∇uᵢ ∇uᵢᵀ + uᵢ ∇²uᵢ).
        y2 = y * y
        y3 = y2 * y
        u1 = 1.5 - x + x * y
        u2 = 2.25 - x + x * y2
        u3 = 2.625 - x + x * y3
        a1, a2, a3 = y - 1, y2 - 1, y3 - 1  # ∂uᵢ/∂x
        b1, b2, b3 = x, 2 * x * y, 3 * x * y2  # ∂uᵢ/∂y
        hxx = 2 * (a1 * a1 + a2 * a2 + a3 * a3)
        hxy = 2 * (a1 * b1 + a2 * b2 + a3 * b3 + u1 + 2 * y * u2 + 3 * y2 * u3)
        hyy = 2 * (b1 * b1 + b2 * b2 + b3 * b3 + 2 * x * u2 + 6 * x * y * u3)
        return hxx, hxy, hyy


class _Himmelblau(_Planar):
    """f(x, y) = (x² + y − 11)² + (x + y² − 7)²."""

    box = ((-5.0, 5.0), (-5.0, 5.0))

    def __init__(self) -> None:
        # (3, 2) is exact; the other three are roots of a degree-9 polynomial, known to six
        # decimals in the literature and polished here to full precision.
        approximate = [(-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)]
        points = [(3.0, 2.0)] + [_polish(self, start, {}) for start in approximate]
        self._minima = [Minimum(point, 0.0) for point in points]

    def expression(self, names: Sequence[str], p: Params) -> str:
        x, y = names
        return f"({x}**2 + {y} - 11)**2 + ({x} + {y}**2 - 7)**2"

    def minima(self, n: int, p: Params) -> list[Minimum]:
        return list(self._minima)

    def f(self, x: Scalar, y: Scalar, p: Params) -> Scalar:
        u = x * x + y - 11
        v = x + y * y - 7
        return u * u + v * v

    def fg(self, x: Scalar, y: Scalar, p: Params) -> tuple[Scalar, Scalar, Scalar]:
        u = x * x + y - 11
        v = x + y * y - 7
        return u * u + v * v, 4 * x * u + 2 * v, 2 * u + 4 * y * v

    def h(self, x: Scalar, y: Scalar, p: Params) -> tuple[Scalar, Scalar, Scalar]:
        u = x * x + y - 11
        v = x + y * y - 7
        return 4 * u + 8 * x * x + 2, 4 * (x + y), 4 * v + 8 * y * y + 2


class _Booth(_Planar):
    """f(x, y) = (x + 2y − 7)² + (2x + y − 5)²."""

    box = ((-10.0, 10.0), (-10.0, 10.0))

    def expression(self, names: Sequence[str], p: Params) -> str:
        x, y = names
        return f"({x} + 2*{y} - 7)**2 + (2*{x} + {y} - 5)**2"

    def minima(self, n: int, p: Params) -> list[Minimum]:
        return [Minimum((1.0, 3.0), 0.0)]

    def f(self, x: Scalar, y: Scalar, p: Params) -> Scalar:
        u = x + 2 * y - 7
        v = 2 * x + y - 5
        return u * u + v * v

    def fg(self, x: Scalar, y: Scalar, p: Params) -> tuple[Scalar, Scalar, Scalar]:
        u = x + 2 * y - 7
        v = 2 * x + y - 5
        return u * u + v * v, 2 * u + 4 * v, 4 * u + 2 * v

    def h(self, x: Scalar, y: Scalar, p: Params) -> tuple[Scalar, Scalar, Scalar]:
        return 10.0, 8.0, 10.0


class _Matyas(_Planar):
    """f(x, y) = 0.26(x² + y²) − 0.48xy."""

    box = ((-10.0, 10.0), (-10.0, 10.0))

    def expression(self, names: Sequence[str], p: Params) -> str:
        x, y = names
        return f"0.26*({x}**2 + {y}**2) - 0.48*{x}*{y}"

    def minima(self, n: int, p: Params) -> list[Minimum]:
        return [Minimum((0.0, 0.0), 0.0)]

    def f(self, x: Scalar, y: Scalar, p: Params) -> Scalar:
        return 0.26 * (x * x + y * y) - 0.48 * x * y

    def fg(self, x: Scalar, y: Scalar, p: Params) -> tuple[Scalar, Scalar, Scalar]:
        return self.f(x, y, p), 0.52 * x - 0.48 * y, 0.52 * y - 0.48 * x

    def h(self, x: Scalar, y: Scalar, p: Params) -> tuple[Scalar, Scalar, Scalar]:
        return 0.52, -0.48, 0.52


class _ThreeHumpCamel(_Planar):
    """f(x, y) = 2x² − 1.05x⁴ + x⁶/6 + xy + y²."""

    def expression(self, names: Sequence[str], p: Params) -> str:
        x, y = names
        return f"2*{x}**2 - 1.05*{x}**4 + {x}**6/6 + {x}*{y} + {y}**2"

    def minima(self, n: int, p: Params) -> list[Minimum]:
        return [Minimum((0.0, 0.0), 0.0)]

    def f(self, x: Scalar, y: Scalar, p: Params) -> Scalar:
        x2 = x * x
        return 2 * x2 - 1.05 * x2 * x2 + x2 * x2 * x2 / 6 + x * y + y * y

    def fg(self, x: Scalar, y: Scalar, p: Params) -> tuple[Scalar, Scalar, Scalar]:
        x2 = x * x
        x4 = x2 * x2
        value = 2 * x2 - 1.05 * x4 + x4 * x2 / 6 + x * y + y * y
        return value, 4 * x - 4.2 * x2 * x + x4 * x + y, x + 2 * y

    def h(self, x: Scalar, y: Scalar, p: Params) -> tuple[Scalar, Scalar, Scalar]:
        x2 = x * x
        return 4 - 12.6 * x2 + 5 * x2 * x2, 1.0, 2.0


class _SixHumpCamel(_Planar):
    """f(x, y) = (4 − 2.1x² + x⁴/3)x² + xy + (−4 + 4y²)y²."""

    box = ((-2.0, 2.0), (-1.0, 1.0))

    def __init__(self) -> None:
        # f(−x, −y) = f(x, y): the two global minima are mirror images. The literature gives
        # them to four decimals; polish one and mirror it so the pair is exactly symmetric.
        x, y = _polish(self, (0.0898, -0.7126), {})
        value = float(self.f(np.float64(x), np.float64(y), {}))
        self._minima = [Minimum((x, y), value), Minimum((-x, -y), value)]

    def expression(self, names: Sequence[str], p: Params) -> str:
        x, y = names
        return f"(4 - 2.1*{x}**2 + {x}**4/3)*{x}**2 + {x}*{y} + (-4 + 4*{y}**2)*{y}**2"

    def minima(self, n: int, p: Params) -> list[Minimum]:
        return list(self._minima)

    def f(self, x: Scalar, y: Scalar, p: Params) -> Scalar:
        x2 = x * x
        y2 = y * y
        return (4 - 2.1 * x2 + x2 * x2 / 3) * x2 + x * y + (-4 + 4 * y2) * y2

    def fg(self, x: Scalar, y: Scalar, p: Params) -> tuple[Scalar, Scalar, Scalar]:
        x2 = x * x
        y2 = y * y
        value = (4 - 2.1 * x2 + x2 * x2 / 3) * x2 + x * y + (-4 + 4 * y2) * y2
        gx = 8 * x - 8.4 * x2 * x + 2 * x2 * x2 * x + y
        gy = x - 8 * y + 16 * y2 * y
        return value, gx, gy

    def h(self, x: Scalar, y: Scalar, p: Params) -> tuple[Scalar, Scalar, Scalar]:
        x2 = x * x
        return 8 - 25.2 * x2 + 10 * x2 * x2, 1.0, -8 + 48 * y * y


class _GoldsteinPrice(_Planar):
    """f(x, y) = [1 + (x + y + 1)²(19 − 14x + 3x² − 14y + 6xy + 3y²)] × [30 + (2x − 3y)²(18 − 32x +
    12x² + 48y − 36xy + 27y²)].
    """

    # f = A(w)·B(t) with w = x + y and t = 2x − 3y:
    #   A = 1 + (w + 1)²(3w² − 14w + 19) = 3w⁴ − 8w³ − 6w² + 24w + 20,
    #   B = 30 + t²(3t² − 16t + 18)     = 3t⁴ − 16t³ + 18t² + 30,
    # which turns the textbook form's two long polynomials into two quartics in one variable.

    def expression(self, names: Sequence[str], p: Params) -> str:
        x, y = names
        return (
            f"(1 + ({x} + {y} + 1)**2*(19 - 14*{x} + 3*{x}**2 - 14*{y} + 6*{x}*{y} + 3*{y}**2))"
            f"*(30 + (2*{x} - 3*{y})**2*(18 - 32*{x} + 12*{x}**2 + 48*{y} - 36*{x}*{y} "
            f"+ 27*{y}**2))"
        )

    def minima(self, n: int, p: Params) -> list[Minimum]:
        return [Minimum((0.0, -1.0), 3.0)]

    @staticmethod
    def _parts(x: Scalar, y: Scalar) -> tuple[Scalar, Scalar, Scalar, Scalar]:
        w = x + y
        t = 2 * x - 3 * y
        s = w + 1
        a = 1 + s * s * ((3 * w - 14) * w + 19)
        b = 30 + t * t * ((3 * t - 16) * t + 18)
        return w, t, a, b

    def f(self, x: Scalar, y: Scalar, p: Params) -> Scalar:
        _, _, a, b = self._parts(x, y)
        return a * b

    def fg(self, x: Scalar, y: Scalar, p: Params) -> tuple[Scalar, Scalar, Scalar]:
        w, t, a, b = self._parts(x, y)
        da = ((12 * w - 24) * w - 12) * w + 24
        db = ((12 * t - 48) * t + 36) * t
        return a * b, da * b + 2 * a * db, da * b - 3 * a * db

    def h(self, x: Scalar, y: Scalar, p: Params) -> tuple[Scalar, Scalar, Scalar]:
        w, t, a, b = self._parts(x, y)
        da = ((12 * w - 24) * w - 12) * w + 24
        db = ((12 * t - 48) * t + 36) * t
        d2a = (36 * w - 48) * w - 12
        d2b = (36 * t - 96) * t + 36
        cross = da * db
        base = d2a * b
        hxx = base + 4 * cross + 4 * a * d2b
        hxy = base - cross - 6 * a * d2b
        hyy = base - 6 * cross + 9 * a * d2b
        return hxx, hxy, hyy


class _Saddle(_Planar):
    """f(x, y) = x² − y²."""

    def expression(self, names: Sequence[str], p: Params) -> str:
        x, y = names
        return f"{x}**2 - {y}**2"

    def minima(self, n: int, p: Params) -> list[Minimum]:
        return []

    def f(self, x: Scalar, y: Scalar, p: Params) -> Scalar:
        return x * x - y * y

    def fg(self, x: Scalar, y: Scalar, p: Params) -> tuple[Scalar, Scalar, Scalar]:
        return x * x - y * y, 2 * x, -2 * y

    def h(self, x: Scalar, y: Scalar, p: Params) -> tuple[Scalar, Scalar, Scalar]:
        return 2.0, 0.0, -2.0


class _MonkeySaddle(_Planar):
    """f(x, y) = x³ − 3xy²."""

    def expression(self, names: Sequence[str], p: Params) -> str:
        x, y = names
        return f"{x}**3 - 3*{x}*{y}**2"

    def minima(self, n: int, p: Params) -> list[Minimum]:
        return []

    def f(self, x: Scalar, y: Scalar, p: Params) -> Scalar:
        return x * (x * x - 3 * y * y)

    def fg(self, x: Scalar, y: Scalar, p: Params) -> tuple[Scalar, Scalar, Scalar]:
        x2 = x * x
        y2 = y * y
        return x * (x2 - 3 * y2), 3 * (x2 - y2), -6 * x * y

    def h(self, x: Scalar, y: Scalar, p: Params) -> tuple[Scalar, Scalar, Scalar]:
        return 6 * x, -6 * y, -6 * x


class _ElongatedQuadratic(_Planar):
    """f(x, y) = ½(x² + κy²)."""

    def expression(self, names: Sequence[str], p: Params) -> str:
        x, y = names
        return f"0.5*({x}**2 + {_num(p['kappa'])}*{y}**2)"

    def minima(self, n: int, p: Params) -> list[Minimum]:
        return [Minimum((0.0, 0.0), 0.0)]

    def f(self, x: Scalar, y: Scalar, p: Params) -> Scalar:
        return 0.5 * (x * x + p["kappa"] * y * y)

    def fg(self, x: Scalar, y: Scalar, p: Params) -> tuple[Scalar, Scalar, Scalar]:
        kappa = p["kappa"]
        ky = kappa * y
        return 0.5 * (x * x + ky * y), x, ky

    def h(self, x: Scalar, y: Scalar, p: Params) -> tuple[Scalar, Scalar, Scalar]:
        return 1.0, 0.0, p["kappa"]


class _RotatedQuadratic(_Planar):
    """f(x, y) = ½(u² + κv²), u = x cos φ + y sin φ, v = −x sin φ + y cos φ (φ in degrees)."""

    # Evaluated expanded, f = ½(Px² + 2Qxy + Ry²): three products per point.

    @staticmethod
    def _trig(p: Params) -> tuple[float, float]:
        angle = math.radians(p["angle"])
        return math.cos(angle), math.sin(angle)

    def _coefficients(self, p: Params) -> tuple[float, float, float]:
        c, s = self._trig(p)
        kappa = p["kappa"]
        return c * c + kappa * s * s, (1 - kappa) * s * c, s * s + kappa * c * c

    def expression(self, names: Sequence[str], p: Params) -> str:
        x, y = names
        c, s = self._trig(p)
        kappa = _num(p["kappa"])
        u = _linear((c, s), (x, y))
        v = _linear((-s, c), (x, y))
        return f"0.5*(({u})**2 + {kappa}*({v})**2)"

    def minima(self, n: int, p: Params) -> list[Minimum]:
        return [Minimum((0.0, 0.0), 0.0)]

    def f(self, x: Scalar, y: Scalar, p: Params) -> Scalar:
        P, Q, R = self._coefficients(p)
        return 0.5 * (P * x * x + 2 * Q * x * y + R * y * y)

    def fg(self, x: Scalar, y: Scalar, p: Params) -> tuple[Scalar, Scalar, Scalar]:
        P, Q, R = self._coefficients(p)
        gx = P * x + Q * y
        gy = Q * x + R * y
        return 0.5 * (x * gx + y * gy), gx, gy

    def h(self, x: Scalar, y: Scalar, p: Params) -> tuple[Scalar, Scalar, Scalar]:
        return self._coefficients(p)


# -- n-dimensional kernels ---------------------------------------------------------------------


class _Sphere(_Kernel):
    """f(x) = Σᵢ xᵢ²."""

    def expression(self, names: Sequence[str], p: Params) -> str:
        return " + ".join(f"{x}**2" for x in names)

    def minima(self, n: int, p: Params) -> list[Minimum]:
        return [Minimum((0.0,) * n, 0.0)]

    def domain(self, n: int, p: Params) -> list[tuple[float, float]]:
        return [(-5.0, 5.0)] * n

    def value(self, theta: Array, p: Params) -> Array:
        return np.asarray(np.einsum("...i,...i->...", theta, theta))

    def value_and_grad(self, theta: Array, p: Params) -> tuple[Array, Array]:
        return self.value(theta, p), 2 * theta

    def hessian(self, theta: Array, p: Params) -> Array:
        return _diagonal_matrix(np.full(theta.shape, 2.0))


class _Rosenbrock(_Kernel):
    """f(x) = Σᵢ₌₁ⁿ⁻¹ [b(xᵢ₊₁ − xᵢ²)² + (a − xᵢ)²]."""

    def expression(self, names: Sequence[str], p: Params) -> str:
        a, b = _num(p["a"]), _num(p["b"])
        return " + ".join(
            f"{b}*({names[i + 1]} - {names[i]}**2)**2 + ({a} - {names[i]})**2"
            for i in range(len(names) - 1)
        )

    def minima(self, n: int, p: Params) -> list[Minimum]:
        a = p["a"]
        if n == 2:
            return [Minimum((a, a * a), 0.0)]
        if a in (0.0, 1.0):
            return [Minimum((a,) * n, 0.0)]
        minimum = _rosenbrock_minimum(n, p["a"], p["b"])
        return [] if minimum is None else [minimum]

    def domain(self, n: int, p: Params) -> list[tuple[float, float]]:
        # The classic view of the 2-D valley, x ∈ [−2, 2] and y ∈ [−1, 3] for a = 1, moved
        # with a: x₁ plays the role of x, xₙ that of y and the coordinates between both. The
        # box is then widened to hold a numerically located minimum.
        a = p["a"]
        half = abs(a) + 1.0
        across = (-half, half)
        along = (a * a - 2.0, a * a + 2.0)
        both = (min(across[0], along[0]), max(across[1], along[1]))
        box = [across] + [both] * (n - 2) + [along]
        for minimum in self.minima(n, p):
            box = [
                (low, high) if low < c < high else (min(low, c - 1.0), max(high, c + 1.0))
                for (low, high), c in zip(box, minimum.point, strict=True)
            ]
        return box

    def value(self, theta: Array, p: Params) -> Array:
        a, b = p["a"], p["b"]
        head = theta[..., :-1]
        d = theta[..., 1:] - head * head
        r = a - head
        return np.asarray(np.sum(b * d * d + r * r, axis=-1))

    def value_and_grad(self, theta: Array, p: Params) -> tuple[Array, Array]:
        a, b = p["a"], p["b"]
        if theta.shape == (2,):
            # The optimizer's hot loop on the classic 2-D valley: scalar arithmetic is several
            # times faster than the array expressions below on arrays of length 1.
            x, y = theta[0], theta[1]
            d2 = y - x * x
            r2 = a - x
            bd2 = 2 * b * d2
            return (
                np.array(b * d2 * d2 + r2 * r2, dtype=np.float64),
                np.array((-2 * (x * bd2 + r2), bd2), dtype=np.float64),
            )
        head = theta[..., :-1]
        d = theta[..., 1:] - head * head
        r = a - head
        bd = (2 * b) * d
        value = np.asarray(np.sum((0.5 * bd) * d + r * r, axis=-1))
        grad = np.empty(theta.shape)
        grad[..., -1] = 0.0
        grad[..., :-1] = -2 * (head * bd + r)
        grad[..., 1:] += bd
        return value, grad

    def hessian(self, theta: Array, p: Params) -> Array:
        # Tridiagonal: xᵢ meets only xᵢ₋₁ and xᵢ₊₁.
        b = p["b"]
        n = theta.shape[-1]
        head = theta[..., :-1]
        diagonal = np.zeros(theta.shape)
        diagonal[..., :-1] = 12 * b * head * head - 4 * b * theta[..., 1:] + 2
        diagonal[..., 1:] += 2 * b
        out = _diagonal_matrix(diagonal)
        index = np.arange(n)
        off = -4 * b * head
        out[..., index[:-1], index[1:]] = off
        out[..., index[1:], index[:-1]] = off
        return out


class _Rastrigin(_Kernel):
    """f(x) = An + Σᵢ [xᵢ² − A cos(2πxᵢ)]."""

    def expression(self, names: Sequence[str], p: Params) -> str:
        A = _factor(p["A"])
        terms = " + ".join(f"{x}**2 - {A}*cos(2*pi*{x})" for x in names)
        return f"{_num(p['A'] * len(names))} + {terms}"

    def minima(self, n: int, p: Params) -> list[Minimum]:
        return [Minimum((0.0,) * n, 0.0)]

    def domain(self, n: int, p: Params) -> list[tuple[float, float]]:
        return [(-5.12, 5.12)] * n

    def value(self, theta: Array, p: Params) -> Array:
        # A(1 − cos 2πx) = 2A sin²(πx) avoids cancelling An against A Σ cos near the minimum.
        s = np.sin(math.pi * theta)
        return np.asarray(np.sum(theta * theta + 2 * p["A"] * s * s, axis=-1))

    def value_and_grad(self, theta: Array, p: Params) -> tuple[Array, Array]:
        A = p["A"]
        s = np.sin(math.pi * theta)
        value = np.asarray(np.sum(theta * theta + 2 * A * s * s, axis=-1))
        return value, 2 * theta + _TWO_PI * A * np.sin(_TWO_PI * theta)

    def hessian(self, theta: Array, p: Params) -> Array:
        return _diagonal_matrix(2 + _TWO_PI * _TWO_PI * p["A"] * np.cos(_TWO_PI * theta))


class _Ackley(_Kernel):
    """f(x) = −a exp(−b √(Σᵢ xᵢ²/n)) − exp(Σᵢ cos(c xᵢ)/n) + a + e."""

    # Below, f = −a e^{−br} − e^{m} + a + e with r = ‖θ‖/√n and m = Σ cos(cθᵢ)/n.

    def expression(self, names: Sequence[str], p: Params) -> str:
        a, b, c = p["a"], p["b"], p["c"]
        n = len(names)
        cfac = "2*pi" if c == _TWO_PI else _factor(c)
        squares = " + ".join(f"{x}**2" for x in names)
        cosines = " + ".join(f"cos({cfac}*{x})" for x in names)
        return (
            f"-{_factor(a)}*exp(-{_factor(b)}*sqrt(({squares})/{n})) "
            f"- exp(({cosines})/{n}) + {_num(a)} + e"
        )

    def minima(self, n: int, p: Params) -> list[Minimum]:
        return [Minimum((0.0,) * n, 0.0)]

    def domain(self, n: int, p: Params) -> list[tuple[float, float]]:
        return [(-5.0, 5.0)] * n

    @staticmethod
    def _parts(theta: Array, p: Params) -> tuple[Array, Array, Array, Array]:
        n = theta.shape[-1]
        r = np.asarray(np.sqrt(np.einsum("...i,...i->...", theta, theta) / n))
        radial = np.asarray(np.exp(-p["b"] * r))
        cos = np.cos(p["c"] * theta)
        m = np.asarray(np.sum(cos, axis=-1) / n)
        return r, radial, cos, m

    def _value(self, r: Array, m: Array, p: Params) -> Array:
        # a(1 − e^{−br}) + e(1 − e^{m−1}), with expm1 for accuracy near the minimum;
        # adding 0.0 turns the −0.0 at the origin into 0.0.
        return np.asarray(-p["a"] * np.expm1(-p["b"] * r) - math.e * np.expm1(m - 1) + 0.0)

    def value(self, theta: Array, p: Params) -> Array:
        r, _, _, m = self._parts(theta, p)
        return self._value(r, m, p)

    def value_and_grad(self, theta: Array, p: Params) -> tuple[Array, Array]:
        a, b, c = p["a"], p["b"], p["c"]
        n = theta.shape[-1]
        # One path for a single point and a batch, so a batch row equals the single run.
        r, radial, _, m = self._parts(theta, p)
        # ∇(−a e^{−br}) = ab e^{−br} θ/(n r): 0/0 at the origin, where 0 is the smallest
        # subgradient of the cone and keeps an optimizer at rest on the minimum.
        inverse_r = np.where(r > 0, 1 / r, 0.0)
        k = (a * b / n) * radial * inverse_r
        grad = k[..., None] * theta + (c / n) * np.exp(m)[..., None] * np.sin(c * theta)
        return self._value(r, m, p), grad

    def hessian(self, theta: Array, p: Params) -> Array:
        # H = (ab e^{−br}/(n r)) [I − (br + 1)/(n r²) θθᵀ] + (c² e^m/n)[diag(cos cθ) − sin sinᵀ/n].
        # The first term has no limit at the origin (a cone point): the Hessian is NaN there.
        a, b, c = p["a"], p["b"], p["c"]
        n = theta.shape[-1]
        r, radial, cos, m = self._parts(theta, p)
        k = (a * b / n) * radial / r
        outer_scale = -k * (b * r + 1) / (n * r * r)
        sin = np.sin(c * theta)
        scale = c * c * np.exp(m) / n
        # Products θᵢθⱼ formed before scaling, so that the matrix is exactly symmetric.
        out: Array = outer_scale[..., None, None] * (theta[..., :, None] * theta[..., None, :])
        out -= (scale / n)[..., None, None] * (sin[..., :, None] * sin[..., None, :])
        index = np.arange(n)
        out[..., index, index] += k[..., None] + scale[..., None] * cos
        out[r == 0] = np.nan
        return out


class _StyblinskiTang(_Kernel):
    """f(x) = ½ Σᵢ (xᵢ⁴ − 16xᵢ² + 5xᵢ)."""

    def __init__(self) -> None:
        # Each coordinate minimises ½(x⁴ − 16x² + 5x), whose stationary points solve
        # x³ − 8x + 5/4 = 0; the smallest root, by the trigonometric formula for three real
        # roots, is the minimiser.
        p, q = -8.0, 1.25
        phase = math.acos(3 * q / (2 * p) * math.sqrt(-3 / p)) / 3
        root = min(2 * math.sqrt(-p / 3) * math.cos(phase - 2 * math.pi * k / 3) for k in range(3))
        for _ in range(3):  # Newton polishing of the last bits
            root -= (root**3 - 8 * root + 1.25) / (3 * root * root - 8)
        self.root = root
        self.per_coordinate = 0.5 * (root**4 - 16 * root**2 + 5 * root)

    def expression(self, names: Sequence[str], p: Params) -> str:
        return "0.5*(" + " + ".join(f"{x}**4 - 16*{x}**2 + 5*{x}" for x in names) + ")"

    def minima(self, n: int, p: Params) -> list[Minimum]:
        value = float(self.value(np.full(n, self.root), p))
        return [Minimum((self.root,) * n, value)]

    def domain(self, n: int, p: Params) -> list[tuple[float, float]]:
        return [(-5.0, 5.0)] * n

    def value(self, theta: Array, p: Params) -> Array:
        t2 = theta * theta
        return np.asarray(0.5 * np.sum(t2 * t2 - 16 * t2 + 5 * theta, axis=-1))

    def value_and_grad(self, theta: Array, p: Params) -> tuple[Array, Array]:
        t2 = theta * theta
        value = np.asarray(0.5 * np.sum(t2 * t2 - 16 * t2 + 5 * theta, axis=-1))
        return value, (2 * t2 - 16) * theta + 2.5

    def hessian(self, theta: Array, p: Params) -> Array:
        return _diagonal_matrix(6 * theta * theta - 16)


# -- locating minima numerically ---------------------------------------------------------------


def _polish(kernel: _Kernel, start: Sequence[float] | Array, p: Params) -> tuple[float, ...]:
    """Newton's method on ∇f = 0 from a point already close to a non-degenerate minimum.

    Stops when a step no longer shrinks the gradient, i.e. once rounding dominates.
    """
    theta = np.array(start, dtype=np.float64)
    _, grad = kernel.value_and_grad(theta, p)
    for _ in range(20):
        try:
            candidate = theta - np.linalg.solve(kernel.hessian(theta, p), grad)
        except np.linalg.LinAlgError:
            break
        _, new_grad = kernel.value_and_grad(candidate, p)
        if not np.linalg.norm(new_grad) < np.linalg.norm(grad):
            break
        theta, grad = candidate, new_grad
    return tuple(float(c) for c in theta)


@functools.lru_cache(maxsize=64)
def _rosenbrock_minimum(n: int, a: float, b: float) -> Minimum | None:
    """The chained Rosenbrock minimum for n ≥ 3 and a ∉ {0, 1}, which has no closed form.

    The minimiser is followed by continuation in a from the known one at a = 1 (all ones):
    a damped Newton method tracks it as a moves in small steps. None when the result is not a
    non-degenerate minimum (the bounded effort did not converge).
    """
    kernel = _ROSENBROCK
    steps = min(64, 8 + math.ceil(8 * abs(a - 1.0)))
    theta = np.ones(n)
    for value in np.linspace(1.0, a, steps + 1)[1:]:
        theta = _damped_newton(kernel, theta, {"a": float(value), "b": b})
    p = {"a": a, "b": b}
    point = np.array(_polish(kernel, theta, p), dtype=np.float64)
    value, grad = kernel.value_and_grad(point, p)
    eigenvalues = np.linalg.eigvalsh(kernel.hessian(point, p))
    scale = float(np.abs(eigenvalues).max())
    if float(np.linalg.norm(grad)) > 1e-9 * max(1.0, scale) or eigenvalues[0] <= 1e-12 * scale:
        return None
    return Minimum(tuple(float(c) for c in point), float(value))


def _damped_newton(kernel: _Kernel, theta: Array, p: Params, iterations: int = 50) -> Array:
    """Newton's method with a Levenberg shift and backtracking, so f never increases."""
    value, grad = kernel.value_and_grad(theta, p)
    identity = np.eye(theta.shape[-1])
    for _ in range(iterations):
        if float(np.abs(grad).max()) <= 1e-10 * max(1.0, abs(float(value))):
            break
        hessian = kernel.hessian(theta, p)
        shift = 0.0
        while True:
            try:
                np.linalg.cholesky(hessian + shift * identity)
                break
            except np.linalg.LinAlgError:
                shift = max(4 * shift, 1e-6 * max(1.0, float(np.abs(hessian).max())))
        step = np.linalg.solve(hessian + shift * identity, grad)
        t = 1.0
        while True:
            candidate = theta - t * step
            new_value, new_grad = kernel.value_and_grad(candidate, p)
            if new_value <= value:
                theta, value, grad = candidate, new_value, new_grad
                break
            t /= 2
            if t < 1e-10:
                return theta
    return theta


# -- the catalogue -------------------------------------------------------------------------------

_PLANE: Final = Dims(2, 2, 2)
_ROSENBROCK: Final = _Rosenbrock()


def _entry(
    name: str,
    title: str,
    formula: str,
    kernel: _Kernel,
    dims: Dims = _PLANE,
    params: Mapping[str, Param] | None = None,
    minima_note: str | None = None,
) -> tuple[str, BuiltinFunction]:
    return name, BuiltinFunction(
        name=name,
        title=title,
        formula=formula,
        dims=dims,
        params=MappingProxyType(dict(params or {})),
        minima_note=minima_note,
        _kernel=kernel,
    )


CATALOGUE: Final[Mapping[str, BuiltinFunction]] = MappingProxyType(
    dict(
        [
            _entry(
                "sphere",
                "Sphere: the round bowl, the easiest case for gradient descent",
                "f(x) = Σᵢ xᵢ²",
                _Sphere(),
                dims=Dims(1, None, 2),
            ),
            _entry(
                "rosenbrock",
                "Rosenbrock: a curved, flat-bottomed valley that is easy to find, hard to follow",
                "f(x) = Σᵢ₌₁ⁿ⁻¹ [b(xᵢ₊₁ − xᵢ²)² + (a − xᵢ)²]; for n = 2, "
                "f(x, y) = (a − x)² + b(y − x²)²",
                _ROSENBROCK,
                dims=Dims(2, None, 2),
                params={
                    "a": Param(1.0, "where the valley floor is lowest: (a, a²) for n = 2"),
                    "b": Param(100.0, "steepness of the valley walls", lower=0.0),
                },
                minima_note=(
                    "for n ≥ 3 and a other than 0 or 1 the minimiser has no closed form; it is "
                    "located numerically by continuation in a from the all-ones minimiser at "
                    "a = 1. For a = 1 and 4 ≤ n ≤ 7 there is also a local, non-global minimum "
                    "near (−1, 1, ..., 1)"
                ),
            ),
            _entry(
                "beale",
                "Beale: sharp ridges and flat plateaus around a minimum in a narrow valley",
                "f(x, y) = (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²",
                _Beale(),
            ),
            _entry(
                "himmelblau",
                "Himmelblau: four global minima of equal value",
                "f(x, y) = (x² + y − 11)² + (x + y² − 7)²",
                _Himmelblau(),
                minima_note="four global minima, all with f = 0; (3, 2) is exact, the others "
                "are roots of a polynomial, given to full double precision",
            ),
            _entry(
                "booth",
                "Booth: a tilted quadratic bowl",
                "f(x, y) = (x + 2y − 7)² + (2x + y − 5)²",
                _Booth(),
            ),
            _entry(
                "matyas",
                "Matyas: a flat, ill-conditioned quadratic plate",
                "f(x, y) = 0.26(x² + y²) − 0.48xy",
                _Matyas(),
            ),
            _entry(
                "three_hump_camel",
                "Three-hump camel: a global minimum between two local ones",
                "f(x, y) = 2x² − 1.05x⁴ + x⁶/6 + xy + y²",
                _ThreeHumpCamel(),
            ),
            _entry(
                "six_hump_camel",
                "Six-hump camel: two global minima among six local ones",
                "f(x, y) = (4 − 2.1x² + x⁴/3)x² + xy + (−4 + 4y²)y²",
                _SixHumpCamel(),
                minima_note="two global minima, mirror images through the origin; located by "
                "Newton's method from the literature's (±0.0898, ∓0.7126)",
            ),
            _entry(
                "goldstein_price",
                "Goldstein–Price: a minimum in a broad basin, with values spanning six decades",
                "f(x, y) = [1 + (x + y + 1)²(19 − 14x + 3x² − 14y + 6xy + 3y²)]"
                " × [30 + (2x − 3y)²(18 − 32x + 12x² + 48y − 36xy + 27y²)]",
                _GoldsteinPrice(),
            ),
            _entry(
                "rastrigin",
                "Rastrigin: a bowl covered in a regular grid of local minima",
                "f(x) = An + Σᵢ [xᵢ² − A cos(2πxᵢ)]",
                _Rastrigin(),
                dims=Dims(1, None, 2),
                params={"A": Param(10.0, "height of the ripples", lower=0.0, strict=False)},
            ),
            _entry(
                "ackley",
                "Ackley: a nearly flat, rippled plain around a deep central funnel",
                "f(x) = −a exp(−b √(Σᵢ xᵢ²/n)) − exp(Σᵢ cos(c xᵢ)/n) + a + e",
                _Ackley(),
                dims=Dims(1, None, 2),
                params={
                    "a": Param(20.0, "depth of the central funnel", lower=0.0),
                    "b": Param(0.2, "how fast the funnel narrows", lower=0.0),
                    "c": Param(_TWO_PI, "angular frequency of the ripples (2π)", lower=0.0),
                },
                minima_note="the minimum is the tip of a cone, where f is not differentiable: "
                "the gradient there is reported as 0 (the smallest subgradient) and the Hessian "
                "as NaN",
            ),
            _entry(
                "styblinski_tang",
                "Styblinski–Tang: 2ⁿ local minima, one per orthant, the global one in the "
                "negative orthant",
                "f(x) = ½ Σᵢ (xᵢ⁴ − 16xᵢ² + 5xᵢ)",
                _StyblinskiTang(),
                dims=Dims(1, None, 2),
                minima_note="every coordinate equals the smallest root of x³ − 8x + 5/4 = 0 "
                "(≈ −2.903534); f ≈ −39.16617 n",
            ),
            _entry(
                "saddle",
                "Saddle: up along x, down along y",
                "f(x, y) = x² − y²",
                _Saddle(),
                minima_note="none: f is unbounded below; the origin is a saddle point",
            ),
            _entry(
                "monkey_saddle",
                "Monkey saddle: three valleys meet at a flat critical point",
                "f(x, y) = x³ − 3xy²",
                _MonkeySaddle(),
                minima_note="none: f is unbounded below; the origin is a degenerate critical "
                "point (its Hessian is zero, so the second-order test is inconclusive)",
            ),
            _entry(
                "elongated_quadratic",
                "Elongated quadratic: an axis-aligned valley, κ times steeper across than along",
                "f(x, y) = ½(x² + κy²)",
                _ElongatedQuadratic(),
                params={
                    "kappa": Param(100.0, "condition number: curvature along y over x", lower=0.0)
                },
            ),
            _entry(
                "rotated_quadratic",
                "Rotated quadratic: the elongated valley turned by an angle, so no single "
                "coordinate is the steep one",
                "f(x, y) = ½(u² + κv²), u = x cos φ + y sin φ, v = −x sin φ + y cos φ",
                _RotatedQuadratic(),
                params={
                    "kappa": Param(100.0, "condition number: curvature along v over u", lower=0.0),
                    "angle": Param(45.0, "rotation φ of the valley, in degrees"),
                },
            ),
        ]
    )
)
"""Every built-in function by name, in the order of the service's catalogue."""


def make_builtin(name: str, dim: int | None, params: Mapping[str, float]) -> BuiltinLoss:
    """The named function at a dimension (None: its default) and parameters (defaults fill in).

    Raises ``ValueError`` naming the problem: an unknown function or parameter, a dimension
    outside the function's range, or a parameter value that is not a finite number in range.
    """
    function = CATALOGUE.get(name) if isinstance(name, str) else None
    if function is None:
        known = ", ".join(CATALOGUE)
        raise ValueError(f"unknown builtin function {name!r}; the functions are: {known}")
    return function.make(dim, params)


def describe_catalogue() -> list[BuiltinDescription]:
    """JSON-ready descriptions of every entry, in catalogue order (``GET /v1/losses``)."""
    return [function.describe() for function in CATALOGUE.values()]
