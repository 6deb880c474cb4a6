"""Models on data as losses: linear, logistic and softmax regression, and a small MLP.

Each factory returns a :class:`DatasetLoss`. As a :class:`core.losses.Loss` it is the
full-data objective f(θ) — the mean loss over the m examples plus an optional L2 term — with
value, gradient and Hessian vectorised over leading axes of θ; for a training loop it also
gives the loss and gradient on a mini-batch (:meth:`DatasetLoss.batch_value_and_grad`).
Gradients are hand-written backpropagation; everything is float64 NumPy.

Models (m examples xᵢ ∈ Rᵈ, means over the examples):

- ``linear_regression``: ŷ = Xw + b; mse = mean((ŷ − y)²).
- ``logistic_regression``: z = Xw + b, p = σ(z), y ∈ {0, 1};
  cross_entropy = mean(log(1 + eᶻ) − y·z) (= −mean(y log p + (1 − y) log(1 − p)), computed
  as ``logaddexp(0, z) − y·z`` so that |z| = 1000 stays finite); mse = mean((p − y)²).
- ``softmax_regression``: Z = XW + b (m×k), P = softmax(Z) row-wise, Y the one-hot labels;
  cross_entropy = mean(logsumexp(Zᵢ) − Z_{i,yᵢ}) (logsumexp shifted by the row maximum);
  mse = mean over all m·k entries of (P − Y)² (torch ``MSELoss`` with reduction 'mean').
- ``mlp``: one or two hidden layers Linear → (BatchNorm) → activation, then a Linear output
  layer with 1 unit (regression: mse on it) or k units (classification: either loss above
  on them).

L2: f(θ) += (λ/2)·Σ w² over the weight matrices only — not biases, nor batch norm's γ and β —
so its gradient is λw (torch's ``weight_decay`` on the weights alone).

Parameter layout: θ concatenates the layers in order, each layer its weight matrix of shape
(fan_in, fan_out) flattened row-major, then its bias (fan_out):

- linear, logistic: ``w[0] … w[d-1], b`` — θ is the (d+1)×1 matrix [w; b];
- softmax: ``W[i,j]`` (d×k, row-major), then ``b[j]`` — θ is the (d+1)×k matrix [W; bᵀ];
- mlp: ``W1[i,j]…, b1[j]…``, then ``W2``, ``b2`` for a second hidden layer, then
  ``Wout[i,j]…, bout[j]…``. With batch norm a hidden layer has no bias (β takes its place):
  ``W1[i,j]…, gamma1[j]…, beta1[j]…``.

Batch normalisation follows torch's ``BatchNorm1d`` (ε = 1e-5, momentum 0.1). On a
mini-batch (training mode) a hidden layer's pre-activations h are normalised with the batch
mean μ and biased variance σ²: u = γ(h − μ)/√(σ² + ε) + β, and the running statistics become
0.9·running + 0.1·batch (with the unbiased variance σ²·B/(B − 1) for a batch of B; they
start at mean 0, variance 1). The full-data objective (``value``, ``value_and_grad``,
``hessian``) is training mode applied to all m examples as one batch, so it is a function of θ
alone; the running statistics are what the model uses to predict on new data (evaluation
mode, :meth:`DatasetLoss.predict`).
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Final, Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from core.losses import Array

__all__ = [
    "BATCH_NORM_EPS",
    "BATCH_NORM_MOMENTUM",
    "Activation",
    "DatasetLoss",
    "linear_regression",
    "logistic_regression",
    "mlp",
    "softmax_regression",
]

BATCH_NORM_EPS: Final = 1e-5
BATCH_NORM_MOMENTUM: Final = 0.1

Rows = NDArray[np.intp] | None
Stats = tuple[Array, ...]
Activation = Literal["tanh", "relu", "sigmoid"]

_HESSIAN_STEP: Final = 1e-5
"""Relative step of the central-difference Hessian: ≈ ∛(machine ε), balancing truncation
(∝ h²) against rounding (∝ ε/h) in differences of an exact gradient."""

_HESSIAN_BUDGET: Final = 1 << 22
"""Float64 numbers the perturbed points of one central-difference chunk may occupy (32 MiB)."""


# -- losses on the model's outputs Z (..., m, k) against targets T (m, k) ----------------------


class _Head(NamedTuple):
    """A loss on the outputs: ``loss_and_grad(Z, T)`` → (loss, ∂loss/∂Z);
    ``curvature(Z, T)`` → ∂²loss/∂zᵢ² per example, shape (..., m, k, k);
    ``predict(Z)`` → what the model outputs (values or probabilities)."""

    loss_and_grad: Callable[[Array, Array], tuple[Array, Array]]
    curvature: Callable[[Array, Array], Array]
    predict: Callable[[Array], Array]


def _total(A: Array) -> Array:
    """Σ over the last two axes."""
    total: Array = np.add.reduce(A.reshape((*A.shape[:-2], -1)), axis=-1)
    return total


def _squared_error(Z: Array, T: Array) -> tuple[Array, Array]:
    """mean((Z − T)²) over all m·k entries; gradient 2(Z − T)/(mk)."""
    R = Z - T
    flat = R.reshape((*R.shape[:-2], -1))
    count = flat.shape[-1]
    value = np.vecdot(flat, flat) / count
    R *= 2.0 / count
    return value, R


def _squared_error_curvature(Z: Array, T: Array) -> Array:
    """(2/mk)·I for every example."""
    m, k = T.shape
    return np.broadcast_to(2.0 / (m * k) * np.eye(k), (*Z.shape, k))


def _identity_output(Z: Array) -> Array:
    return Z[..., 0]


def _softplus_and_sigmoids(z: Array) -> tuple[Array, Array, Array]:
    """(log(1 + eᶻ), σ(z), σ(−z)) without overflow: σ(z) = e^{z − softplus(z)} and
    1 − σ(z) = σ(−z) = e^{−softplus(z)}, the latter exact even where σ(z) rounds to 1."""
    softplus = np.logaddexp(0.0, z)
    return softplus, np.exp(z - softplus), np.exp(-softplus)


def _binary_cross_entropy(z: Array, t: Array) -> tuple[Array, Array]:
    """mean(log(1 + eᶻ) − t·z); gradient (σ(z) − t)/m."""
    m = t.shape[0]
    softplus = np.logaddexp(0.0, z)
    value = _total(softplus - t * z) / m
    dz = np.exp(z - softplus)
    dz -= t
    dz *= 1.0 / m
    return value, dz


def _binary_cross_entropy_curvature(z: Array, t: Array) -> Array:
    """σ(z)(1 − σ(z))/m."""
    _, p, q = _softplus_and_sigmoids(z)
    curvature: Array = (p * q / t.shape[0])[..., None]
    return curvature


def _binary_squared_error(z: Array, t: Array) -> tuple[Array, Array]:
    """mean((p − t)²) with p = σ(z); gradient 2(p − t)·p(1 − p)/m."""
    m = t.shape[0]
    _, p, q = _softplus_and_sigmoids(z)
    r = p - t
    value = _total(r * r) / m
    return value, (2.0 / m) * r * p * q


def _binary_squared_error_curvature(z: Array, t: Array) -> Array:
    """(2/m)·[(σ′)² + (p − t)σ″] with σ′ = pq, σ″ = pq(q − p), q = 1 − p."""
    _, p, q = _softplus_and_sigmoids(z)
    pq = p * q
    curvature: Array = ((2.0 / t.shape[0]) * pq * (pq + (p - t) * (q - p)))[..., None]
    return curvature


def _probability_output(z: Array) -> Array:
    return _softplus_and_sigmoids(z[..., 0])[1]


def _softmax(Z: Array) -> tuple[Array, Array]:
    """(softmax(Z), logsumexp(Z)) row-wise, shifted by the row maximum so exp never overflows;
    logsumexp keeps its reduced axis."""
    top = Z.max(axis=-1, keepdims=True)
    E = np.exp(Z - top)
    total = np.add.reduce(E, axis=-1, keepdims=True)
    E /= total
    return E, top + np.log(total)


def _softmax_cross_entropy(Z: Array, T: Array) -> tuple[Array, Array]:
    """mean(logsumexp(Zᵢ) − Σⱼ Tᵢⱼ Zᵢⱼ); gradient (softmax(Z) − T)/m."""
    m = T.shape[0]
    P, logsumexp = _softmax(Z)
    # Σᵢⱼ Tᵢⱼ Zᵢⱼ as one dot product: no m×k temporary.
    picked = Z.reshape((*Z.shape[:-2], -1)) @ T.reshape(-1)
    value = (np.add.reduce(logsumexp[..., 0], axis=-1) - picked) / m
    P -= T
    P *= 1.0 / m
    return value, P


def _softmax_cross_entropy_curvature(Z: Array, T: Array) -> Array:
    """(diag(pᵢ) − pᵢpᵢᵀ)/m."""
    P, _ = _softmax(Z)
    curvature: Array = _softmax_jacobian(P) / T.shape[0]
    return curvature


def _softmax_jacobian(P: Array) -> Array:
    """∂pᵢ/∂zᵢ = diag(pᵢ) − pᵢpᵢᵀ per example."""
    return P[..., :, None] * (np.eye(P.shape[-1]) - P[..., None, :])


def _softmax_squared_error(Z: Array, T: Array) -> tuple[Array, Array]:
    """mean((P − T)²) over all m·k entries; with r = p − t per example the gradient is
    (2/mk)·J r = (2/mk)·p ⊙ (r − p·r), J the softmax Jacobian."""
    m, k = T.shape
    P, _ = _softmax(Z)
    R = P - T
    value = _total(R * R) / (m * k)
    R -= np.vecdot(P, R)[..., None]
    R *= P
    R *= 2.0 / (m * k)
    return value, R


def _softmax_squared_error_curvature(Z: Array, T: Array) -> Array:
    """(2/mk)·[JᵀJ + diag(v) − v pᵀ − p vᵀ] with v = p ⊙ (r − p·r): the Gauss–Newton term plus
    Σⱼ rⱼ ∇²pⱼ, whose (l, n) entry is δₗₙ vₗ − pₗvₙ − vₗpₙ."""
    m, k = T.shape
    P, _ = _softmax(Z)
    R = P - T
    V = P * (R - np.vecdot(P, R)[..., None])
    J = _softmax_jacobian(P)
    outer = V[..., :, None] * P[..., None, :]
    S = J @ J - outer - outer.swapaxes(-1, -2)
    S += V[..., :, None] * np.eye(k)
    curvature: Array = (2.0 / (m * k)) * S
    return curvature


def _probabilities_output(Z: Array) -> Array:
    return _softmax(Z)[0]


_SQUARED_ERROR = _Head(_squared_error, _squared_error_curvature, _identity_output)
_BINARY_HEADS = {
    "cross_entropy": _Head(
        _binary_cross_entropy, _binary_cross_entropy_curvature, _probability_output
    ),
    "mse": _Head(_binary_squared_error, _binary_squared_error_curvature, _probability_output),
}
_SOFTMAX_HEADS = {
    "cross_entropy": _Head(
        _softmax_cross_entropy, _softmax_cross_entropy_curvature, _probabilities_output
    ),
    "mse": _Head(_softmax_squared_error, _softmax_squared_error_curvature, _probabilities_output),
}


# -- the loss -----------------------------------------------------------------------------


class DatasetLoss(ABC):
    """A model's mean loss on m examples plus (λ/2)·Σ w², as a :class:`core.losses.Loss`,
    with mini-batch evaluation for training (see the module docstring for models, parameter
    layout and batch normalisation). Built by the factory functions of this module."""

    hessian_method: str
    """``"exact"`` (closed form) or ``"central_differences"`` (of the exact gradient)."""

    def __init__(
        self,
        inputs: Array,
        targets: Array,
        names: tuple[str, ...],
        decayed: Array,
        l2: float,
        head: _Head,
    ) -> None:
        inputs.flags.writeable = False
        targets.flags.writeable = False
        self._inputs = inputs
        self._targets = targets
        self._names = names
        self._head = head
        # λ on the weight coordinates, 0 elsewhere; None skips the term when λ = 0.
        self._decay: Array | None = l2 * decayed if l2 > 0 else None

    @property
    def names(self) -> tuple[str, ...]:
        """One name per coordinate of θ, in layout order."""
        return self._names

    @property
    def size(self) -> int:
        """m, the number of examples."""
        return int(self._targets.shape[0])

    def value(self, theta: Array) -> Array:
        """f(θ) with shape ``theta.shape[:-1]``."""
        theta = self._checked(theta)
        with np.errstate(all="ignore"):
            value = self._data_loss(theta)
            if self._decay is not None:
                value = value + 0.5 * np.vecdot(theta * self._decay, theta)
        return np.asarray(value, dtype=np.float64)

    def value_and_grad(self, theta: Array) -> tuple[Array, Array]:
        """(f(θ), ∇f(θ)) with shapes ``theta.shape[:-1]`` and ``theta.shape``."""
        theta = self._checked(theta)
        with np.errstate(all="ignore"):
            value, grad, _ = self._regularised(theta, self._inputs, self._targets)
        return np.asarray(value, dtype=np.float64), grad

    @abstractmethod
    def hessian(self, theta: Array) -> Array:
        """∇²f(θ) with shape ``theta.shape + (p,)``."""

    def init_stats(self) -> Stats:
        """The running statistics before training: (mean, variance) per batch-norm layer."""
        return ()

    def batch_value_and_grad(
        self, theta: Array, rows: Rows, stats: Stats
    ) -> tuple[float, Array, Stats]:
        """The objective on examples ``rows`` (None: all m, in order) and its gradient, at one
        θ of shape (p,), and the running statistics after this batch (``stats`` itself when
        the model has no batch norm). With ``rows=None`` this is exactly ``value_and_grad``.

        The training loop's hot path: it runs under the caller's ``np.errstate``.
        """
        if rows is None:
            inputs, targets = self._inputs, self._targets
        else:
            # take() gathers rows several times faster than fancy indexing does.
            inputs = self._inputs.take(rows, axis=0)
            targets = self._targets.take(rows, axis=0)
        value, grad, moments = self._regularised(theta, inputs, targets)
        if moments:
            stats = _running_statistics(stats, moments, targets.shape[0])
        return float(value), grad, stats

    @abstractmethod
    def initial_params(self, seed: int) -> Array:
        """A starting θ of shape (p,)."""

    @abstractmethod
    def predict(self, theta: Array, X: ArrayLike, stats: Stats | None = None) -> Array:
        """The model's output on inputs X (n, d): shape (..., n) for regression (ŷ) and
        logistic regression (P(y = 1)), (..., n, k) class probabilities for classifiers."""

    def _checked(self, theta: Array) -> Array:
        theta = np.asarray(theta, dtype=np.float64)
        p = len(self._names)
        if theta.ndim == 0 or theta.shape[-1] != p:
            raise ValueError(f"theta must have shape (..., {p}); got {theta.shape}")
        return theta

    def _regularised(
        self, theta: Array, inputs: Array, targets: Array
    ) -> tuple[Array, Array, Stats]:
        value, grad, moments = self._objective(theta, inputs, targets)
        if self._decay is not None:
            decay = theta * self._decay
            value = value + 0.5 * np.vecdot(decay, theta)
            grad += decay
        return value, grad, moments

    @abstractmethod
    def _data_loss(self, theta: Array) -> Array:
        """The mean loss on all m examples (no L2 term)."""

    @abstractmethod
    def _objective(self, theta: Array, inputs: Array, targets: Array) -> tuple[Array, Array, Stats]:
        """(mean loss, its gradient, the batch (mean, variance) of each batch-norm layer)."""


def _running_statistics(stats: Stats, moments: Stats, batch: int) -> Stats:
    """torch's update: running ← (1 − μ)·running + μ·batch, the variance unbiased."""
    if batch < 2:
        raise ValueError(f"batch normalisation needs at least 2 examples in a batch; got {batch}")
    keep, take = 1.0 - BATCH_NORM_MOMENTUM, BATCH_NORM_MOMENTUM
    unbiased = batch / (batch - 1)
    updated: list[Array] = []
    for index in range(0, len(stats), 2):
        mean, var = moments[index].reshape(-1), moments[index + 1].reshape(-1)
        updated.append(keep * stats[index] + take * mean)
        updated.append(keep * stats[index + 1] + take * unbiased * var)
    return tuple(updated)


# -- linear, logistic and softmax regression -----------------------------------------------


class _LinearModel(DatasetLoss):
    """Z = X̃Θ with X̃ = [X, 1] (m×(d+1)) and Θ = θ as a (d+1)×k matrix: the layout puts the
    weights row-major and then the bias, which is exactly the rows of Θ, so one matmul gives
    Z and one gives the whole gradient X̃ᵀ ∂loss/∂Z."""

    hessian_method = "exact"

    def __init__(
        self, X: Array, targets: Array, names: tuple[str, ...], l2: float, head: _Head
    ) -> None:
        m, d = X.shape
        k = targets.shape[1]
        decayed = np.zeros((d + 1, k))
        decayed[:d] = 1.0
        super().__init__(
            np.hstack([X, np.ones((m, 1))]), targets, names, decayed.reshape(-1), l2, head
        )
        self._matrix = (d + 1, k)

    def hessian(self, theta: Array) -> Array:
        """Σᵢ (x̃ᵢx̃ᵢᵀ) ⊗ Sᵢ (+ λ on the weight diagonal), Sᵢ = ∂²loss/∂zᵢ² (k×k): z_{ij} =
        Σₐ x̃_{ia} Θ_{aj} is linear in θ, so only the loss's own curvature enters; the Kronecker
        order matches the layout θ_{(a,j)} = Θ_{aj}."""
        theta = self._checked(theta)
        lead, (width, k) = theta.shape[:-1], self._matrix
        X = self._inputs
        with np.errstate(all="ignore"):
            S = self._head.curvature(self._outputs(theta, X), self._targets)
            weighted = S[..., :, None, :, :] * X[:, :, None, None]
            blocks = X.T @ weighted.reshape((*lead, X.shape[0], -1))
            hessian = blocks.reshape((*lead, width, width, k, k)).swapaxes(-3, -2)
            hessian = hessian.reshape((*theta.shape, theta.shape[-1]))
            if self._decay is not None:
                hessian = hessian + np.diag(self._decay)
        return hessian

    def initial_params(self, seed: int) -> Array:
        """Zeros: ŷ = 0, or every class equally likely (``seed`` is unused)."""
        return np.zeros(len(self._names))

    def predict(self, theta: Array, X: ArrayLike, stats: Stats | None = None) -> Array:
        """ŷ, P(y = 1) or the class probabilities on X; ``stats`` is unused."""
        theta = self._checked(theta)
        inputs = _matrix("X", X, self._matrix[0] - 1)
        with np.errstate(all="ignore"):
            augmented = np.hstack([inputs, np.ones((inputs.shape[0], 1))])
            return self._head.predict(self._outputs(theta, augmented))

    def _outputs(self, theta: Array, inputs: Array) -> Array:
        Theta: Array = theta.reshape((*theta.shape[:-1], *self._matrix))
        return inputs @ Theta

    def _data_loss(self, theta: Array) -> Array:
        return self._head.loss_and_grad(self._outputs(theta, self._inputs), self._targets)[0]

    def _objective(self, theta: Array, inputs: Array, targets: Array) -> tuple[Array, Array, Stats]:
        value, dZ = self._head.loss_and_grad(self._outputs(theta, inputs), targets)
        return value, (inputs.T @ dZ).reshape(theta.shape), ()


def linear_regression(X: ArrayLike, y: ArrayLike, *, l2: float = 0.0) -> DatasetLoss:
    """ŷ = Xw + b with mse = mean((ŷ − y)²) (no ½); θ = (w[0], …, w[d−1], b)."""
    inputs, targets = _data(X, y)
    d = inputs.shape[1]
    names = (*(f"w[{i}]" for i in range(d)), "b")
    return _LinearModel(inputs, targets[:, None], names, _l2(l2), _SQUARED_ERROR)


def logistic_regression(
    X: ArrayLike,
    y: ArrayLike,
    *,
    loss: Literal["cross_entropy", "mse"] = "cross_entropy",
    l2: float = 0.0,
) -> DatasetLoss:
    """p = σ(Xw + b) for labels y ∈ {0, 1}, with cross-entropy or mse on p;
    θ = (w[0], …, w[d−1], b)."""
    inputs, targets = _data(X, y)
    _labels(targets, 2)
    d = inputs.shape[1]
    names = (*(f"w[{i}]" for i in range(d)), "b")
    head = _BINARY_HEADS[_choice("loss", loss, ("cross_entropy", "mse"))]
    return _LinearModel(inputs, targets[:, None], names, _l2(l2), head)


def softmax_regression(
    X: ArrayLike,
    y: ArrayLike,
    *,
    classes: int,
    loss: Literal["cross_entropy", "mse"] = "cross_entropy",
    l2: float = 0.0,
) -> DatasetLoss:
    """P = softmax(XW + b) for labels y ∈ {0, …, k−1}, with cross-entropy or mse on P;
    θ = (W[0,0], W[0,1], …, W[d−1,k−1], b[0], …, b[k−1])."""
    inputs, targets = _data(X, y)
    k = _classes(classes)
    onehot = _labels(targets, k)
    d = inputs.shape[1]
    names = (
        *(f"W[{i},{j}]" for i in range(d) for j in range(k)),
        *(f"b[{j}]" for j in range(k)),
    )
    head = _SOFTMAX_HEADS[_choice("loss", loss, ("cross_entropy", "mse"))]
    return _LinearModel(inputs, onehot, names, _l2(l2), head)


# -- multilayer perceptron -------------------------------------------------------------------


class _Layer(NamedTuple):
    """Where one layer's parameters sit in θ. ``bias`` is the bias of a plain layer, or
    batch norm's β; ``gamma`` is None without batch norm."""

    weights: slice
    shape: tuple[int, int]
    gamma: slice | None
    bias: slice


def _tanh(U: Array) -> Array:
    return np.tanh(U, out=U)


def _tanh_derivative(A: Array) -> Array:
    D = A * A
    return np.subtract(1.0, D, out=D)


def _relu(U: Array) -> Array:
    return np.maximum(U, 0.0, out=U)


def _relu_derivative(A: Array) -> Array:
    """1 where a = max(u, 0) > 0, else 0 (torch's choice at the kink u = 0)."""
    return np.heaviside(A, 0.0)


def _sigmoid(U: Array) -> Array:
    """σ(u) = (1 + tanh(u/2))/2, which cannot overflow."""
    U *= 0.5
    np.tanh(U, out=U)
    U += 1.0
    U *= 0.5
    return U


def _sigmoid_derivative(A: Array) -> Array:
    D = 1.0 - A
    D *= A
    return D


# Each activation, overwriting its argument (a fresh pre-activation no one else holds: it saves a
# temporary per layer on the full data), with its derivative written in terms of a = act(u).
_ACTIVATIONS: dict[str, tuple[Callable[[Array], Array], Callable[[Array], Array]]] = {
    "tanh": (_tanh, _tanh_derivative),
    "relu": (_relu, _relu_derivative),
    "sigmoid": (_sigmoid, _sigmoid_derivative),
}


class _MLP(DatasetLoss):
    """Hidden layers Linear → (BatchNorm) → activation, then a Linear output layer."""

    hessian_method = "central_differences"

    def __init__(
        self,
        X: Array,
        targets: Array,
        hidden: tuple[int, ...],
        activation: str,
        batch_norm: bool,
        l2: float,
        head: _Head,
    ) -> None:
        widths = (X.shape[1], *hidden, targets.shape[1])
        names: list[str] = []
        layers: list[_Layer] = []
        for index, (fan_in, fan_out) in enumerate(itertools.pairwise(widths)):
            tag = str(index + 1) if index < len(hidden) else "out"
            normalised = batch_norm and index < len(hidden)
            start = len(names)
            names += (f"W{tag}[{i},{j}]" for i in range(fan_in) for j in range(fan_out))
            weights = slice(start, len(names))
            gamma = None
            if normalised:
                names += (f"gamma{tag}[{j}]" for j in range(fan_out))
                gamma = slice(weights.stop, len(names))
            names += (f"{'beta' if normalised else 'b'}{tag}[{j}]" for j in range(fan_out))
            bias = slice(len(names) - fan_out, len(names))
            layers.append(_Layer(weights, (fan_in, fan_out), gamma, bias))
        decayed = np.zeros(len(names))
        for layer in layers:
            decayed[layer.weights] = 1.0
        super().__init__(X, targets, tuple(names), decayed, l2, head)
        self._hidden = tuple(layers[:-1])
        self._output = layers[-1]
        self._batch_norm = batch_norm
        self._activation, self._derivative = _ACTIVATIONS[activation]

    def init_stats(self) -> Stats:
        """(running mean 0, running variance 1) per batch-norm layer, in layer order."""
        if not self._batch_norm:
            return ()
        stats: list[Array] = []
        for layer in self._hidden:
            stats += (np.zeros(layer.shape[1]), np.ones(layer.shape[1]))
        return tuple(stats)

    def hessian(self, theta: Array) -> Array:
        """Central differences of the exact gradient, symmetrised: column i is
        (∇f(θ + hᵢeᵢ) − ∇f(θ − hᵢeᵢ))/(2hᵢ) with hᵢ = 10⁻⁵·max(1, |θᵢ|)."""
        theta = self._checked(theta)
        hessian = np.empty((*theta.shape, theta.shape[-1]))
        with np.errstate(all="ignore"):
            for index in np.ndindex(theta.shape[:-1]):
                hessian[index] = self._central_differences(theta[index])
        return hessian

    def _central_differences(self, theta: Array) -> Array:
        p = theta.shape[0]
        step = _HESSIAN_STEP * np.maximum(1.0, np.abs(theta))
        up, down = theta + step, theta - step
        # Divide by the steps actually taken, after rounding θᵢ ± hᵢ.
        taken = up - down
        # A batch of c perturbed points holds about 4 arrays (pre-activations, normalised,
        # activations, their gradients) of m × width numbers per point.
        width = sum(layer.shape[1] for layer in (*self._hidden, self._output))
        chunk = max(1, _HESSIAN_BUDGET // (4 * self._inputs.shape[0] * width))
        columns = np.empty((p, p))
        for start in range(0, p, chunk):
            coordinates = np.arange(start, min(start + chunk, p))
            diagonal = (np.arange(len(coordinates)), coordinates)
            points = np.repeat(theta[None, :], len(coordinates), axis=0)
            points[diagonal] = up[coordinates]
            _, grad_up, _ = self._regularised(points, self._inputs, self._targets)
            points[diagonal] = down[coordinates]
            _, grad_down, _ = self._regularised(points, self._inputs, self._targets)
            columns[coordinates] = (grad_up - grad_down) / taken[coordinates, None]
        return 0.5 * (columns + columns.T)

    def initial_params(self, seed: int) -> Array:
        """torch ``nn.Linear``'s default: weights and biases U(−1/√fan_in, 1/√fan_in), drawn
        from ``default_rng(seed)`` layer by layer, weights (row-major) before biases; batch
        norm's γ = 1 and β = 0."""
        rng = np.random.default_rng(seed)
        theta = np.empty(len(self._names))
        for layer in (*self._hidden, self._output):
            fan_in, fan_out = layer.shape
            bound = 1.0 / np.sqrt(fan_in)
            theta[layer.weights] = rng.uniform(-bound, bound, fan_in * fan_out)
            if layer.gamma is None:
                theta[layer.bias] = rng.uniform(-bound, bound, fan_out)
            else:
                theta[layer.gamma] = 1.0
                theta[layer.bias] = 0.0
        return theta

    def predict(self, theta: Array, X: ArrayLike, stats: Stats | None = None) -> Array:
        """ŷ or the class probabilities on X. Batch norm uses the running statistics
        ``stats`` (evaluation mode); without them, those of the whole training set — the
        normalisation of the full-data objective."""
        theta = self._checked(theta)
        inputs = _matrix("X", X, self._hidden[0].shape[0])
        with np.errstate(all="ignore"):
            moments: Stats = ()
            if self._batch_norm:
                widths = tuple(layer.shape[1] for layer in self._hidden)
                moments = (
                    self._forward(theta, self._inputs)[2]
                    if stats is None
                    else _moments(stats, widths)
                )
            return self._head.predict(self._forward(theta, inputs, moments)[0])

    def _forward(
        self, theta: Array, X: Array, moments: Stats = ()
    ) -> tuple[Array, list[tuple[Array, ...]], Stats]:
        """(outputs, per-layer cache for backprop, the batch (mean, variance) of each
        batch-norm layer). Batch norm normalises with ``moments`` when given (evaluation
        mode), else with the batch's own (training mode). A layer's cache is its input and
        weights, plus the normalised pre-activations, 1/√(σ² + ε) and γ with batch norm."""
        lead = theta.shape[:-1]
        A = X
        cache: list[tuple[Array, ...]] = []
        batch: list[Array] = []
        for index, layer in enumerate(self._hidden):
            W = theta[..., layer.weights].reshape((*lead, *layer.shape))
            H = A @ W
            if layer.gamma is None:
                H += theta[..., None, layer.bias]
                cache.append((A, W))
            else:
                if moments:
                    var = moments[2 * index + 1]
                    H -= moments[2 * index]
                else:
                    m = H.shape[-2]
                    mean = np.add.reduce(H, axis=-2, keepdims=True) / m
                    H -= mean
                    var = np.vecdot(H.mT, H.mT)[..., None, :] / m
                    batch += (mean, var)
                inv_std = 1.0 / np.sqrt(var + BATCH_NORM_EPS)
                H *= inv_std
                gamma = theta[..., None, layer.gamma]
                cache.append((A, W, H, inv_std, gamma))
                H = H * gamma
                H += theta[..., None, layer.bias]
            A = self._activation(H)
        W = theta[..., self._output.weights].reshape((*lead, *self._output.shape))
        cache.append((A, W))
        outputs = A @ W
        outputs += theta[..., None, self._output.bias]
        return outputs, cache, tuple(batch)

    def _data_loss(self, theta: Array) -> Array:
        return self._head.loss_and_grad(self._forward(theta, self._inputs)[0], self._targets)[0]

    def _objective(self, theta: Array, inputs: Array, targets: Array) -> tuple[Array, Array, Stats]:
        outputs, cache, moments = self._forward(theta, inputs)
        value, delta = self._head.loss_and_grad(outputs, targets)
        lead = theta.shape[:-1]
        grad = np.empty(theta.shape)
        layer = self._output
        A, W = cache[-1]
        np.add.reduce(delta, axis=-2, out=grad[..., layer.bias])
        np.matmul(A.mT, delta, out=grad[..., layer.weights].reshape((*lead, *layer.shape)))
        for layer, saved in zip(reversed(self._hidden), reversed(cache[:-1]), strict=True):
            # δ is ∂f/∂(this layer's output); A, W are the next layer's input and weights.
            # Through one output unit the product is an outer one: broadcasting beats gemm.
            delta = delta * W.mT if W.shape[-1] == 1 else delta @ W.mT
            delta *= self._derivative(A)
            np.add.reduce(delta, axis=-2, out=grad[..., layer.bias])
            if layer.gamma is not None:
                normalised, inv_std, gamma = saved[2], saved[3], saved[4]
                dgamma = grad[..., layer.gamma]
                np.vecdot(delta.mT, normalised.mT, out=dgamma)
                # μ and σ² depend on every h of the batch: with g = ∂f/∂u and n the normalised
                # h, ∂f/∂h = (γ/s)·(g − (Σg + n·Σ(g⊙n))/m), and Σg = ∂f/∂β, Σ(g⊙n) = ∂f/∂γ.
                correction = normalised * dgamma[..., None, :]
                correction += grad[..., None, layer.bias]
                correction *= 1.0 / delta.shape[-2]
                delta -= correction
                delta *= gamma * inv_std
            A, W = saved[0], saved[1]
            np.matmul(A.mT, delta, out=grad[..., layer.weights].reshape((*lead, *layer.shape)))
        return value, grad, moments


def mlp(
    X: ArrayLike,
    y: ArrayLike,
    *,
    hidden: Sequence[int],
    activation: Activation = "tanh",
    batch_norm: bool = False,
    task: Literal["regression", "classification"] = "regression",
    classes: int | None = None,
    loss: Literal["mse", "cross_entropy"] | None = None,
    l2: float = 0.0,
) -> DatasetLoss:
    """A multilayer perceptron with 1 or 2 hidden layers of widths ``hidden``.

    ``task="regression"``: one linear output ŷ and mse (the only loss, and the default).
    ``task="classification"``: ``classes`` outputs, softmax, and ``loss`` cross_entropy (the
    default) or mse on the probabilities; labels y ∈ {0, …, classes−1}.
    """
    inputs, targets = _data(X, y)
    widths = tuple(hidden)
    if not 1 <= len(widths) <= 2 or not all(
        isinstance(w, int | np.integer) and not isinstance(w, bool) and w >= 1 for w in widths
    ):
        raise ValueError(f"hidden must be 1 or 2 positive layer widths; got {list(widths)}")
    _choice("activation", activation, tuple(_ACTIVATIONS))
    _choice("task", task, ("regression", "classification"))
    if task == "regression":
        if classes is not None:
            raise ValueError("classes applies to task='classification' only")
        if loss not in (None, "mse"):
            raise ValueError(f"a regression MLP is trained with loss='mse'; got {loss!r}")
        head, outputs = _SQUARED_ERROR, targets[:, None]
    else:
        if classes is None:
            raise ValueError("task='classification' needs classes, the number of labels k ≥ 2")
        outputs = _labels(targets, _classes(classes))
        head = _SOFTMAX_HEADS[_choice("loss", loss or "cross_entropy", ("cross_entropy", "mse"))]
    if batch_norm and inputs.shape[0] < 2:
        raise ValueError("batch normalisation needs at least 2 examples")
    return _MLP(
        inputs, outputs, tuple(int(w) for w in widths), activation, batch_norm, _l2(l2), head
    )


# -- validation --------------------------------------------------------------------------------


def _matrix(name: str, X: ArrayLike, features: int | None = None) -> Array:
    try:
        matrix = np.array(X, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a matrix of real numbers ({err})") from None
    if matrix.ndim != 2 or 0 in matrix.shape:
        raise ValueError(f"{name} must be a non-empty (m, d) matrix; got shape {matrix.shape}")
    if features is not None and matrix.shape[1] != features:
        raise ValueError(f"{name} must have {features} features; got {matrix.shape[1]}")
    if not np.isfinite(matrix).all():
        raise ValueError(f"{name} must contain only finite numbers")
    return matrix


def _data(X: ArrayLike, y: ArrayLike) -> tuple[Array, Array]:
    inputs = _matrix("X", X)
    try:
        targets = np.array(y, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"y must be a vector of real numbers ({err})") from None
    if targets.shape != (inputs.shape[0],):
        raise ValueError(
            f"y must be a vector of {inputs.shape[0]} targets, one per row of X; "
            f"got shape {targets.shape}"
        )
    if not np.isfinite(targets).all():
        raise ValueError("y must contain only finite numbers")
    return inputs, targets


def _classes(classes: object) -> int:
    if isinstance(classes, bool) or not isinstance(classes, int | np.integer) or classes < 2:
        raise ValueError(f"classes must be an integer ≥ 2; got {classes!r}")
    return int(classes)


def _labels(y: Array, classes: int) -> Array:
    """The one-hot (m, k) matrix of labels y ∈ {0, …, k−1}."""
    bad = (y != np.round(y)) | (y < 0) | (y >= classes)
    if bad.any():
        raise ValueError(
            f"labels must be integers in 0..{classes - 1}; got {y[bad][0]:g} "
            f"at example {int(np.flatnonzero(bad)[0])}"
        )
    onehot: Array = np.eye(classes)[y.astype(np.intp)]
    return onehot


def _l2(l2: object) -> float:
    if isinstance(l2, bool) or not isinstance(l2, int | float | np.integer | np.floating):
        raise ValueError(f"l2 must be a number; got {type(l2).__name__}")
    if not np.isfinite(l2) or l2 < 0:
        raise ValueError(f"l2 must be a finite number ≥ 0; got {l2}")
    return float(l2)


def _choice(name: str, value: object, options: tuple[str, ...]) -> str:
    if value not in options:
        listed = ", ".join(repr(option) for option in options)
        raise ValueError(f"{name} must be one of {listed}; got {value!r}")
    return str(value)


def _moments(stats: Stats, widths: tuple[int, ...]) -> Stats:
    """Running statistics checked against the batch-norm layers' widths."""
    expected = tuple(width for width in widths for _ in range(2))
    shapes = tuple(np.shape(stat) for stat in stats)
    if shapes != tuple((width,) for width in expected):
        raise ValueError(
            f"stats must be (running mean, running variance) per batch-norm layer with shapes "
            f"{[(width,) for width in expected]}; got {list(shapes)}"
        )
    return tuple(np.asarray(stat, dtype=np.float64) for stat in stats)
