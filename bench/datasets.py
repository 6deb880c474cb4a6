"""Steps per second of mini-batch SGD: the core's loop, a hand-written NumPy loop, and torch.

Run from the repository root: ``.venv/bin/python -m bench.datasets`` (the torch rows read
"n/a"), or with an interpreter that has torch, numpy and sympy:
``PYTHONPATH=/work/main /work/torchenv/bin/python -m bench.datasets`` — the whole script then
runs in that interpreter, as ``bench/optimizers.py`` does, so all columns share one process,
one NumPy and one OpenBLAS.

Issue 5's benchmark: plain SGD (fixed learning rate) with batch size 64 on 10,000 × 20
synthetic data, each epoch a fresh permutation cut into 157 batches (the last one 16
examples), for three models:

- linear: ``core.datasets.generate("linear", features=20)``, linear regression, mse;
- softmax: ``generate("blobs", features=20, classes=10)`` standardised, softmax regression,
  cross-entropy;
- mlp: the same blobs, 20 → 64 tanh → 10, cross-entropy.

Each run trains from the same θ₀ (the core model's ``initial_params``) over the same batches,
evaluates the full-data loss and gradient at the start and once per epoch (recording f and
‖∇f‖ there), and the mini-batch loss on every step (the core tests it for finiteness):

- core: ``core.run.start_iterate`` and ``core.minibatch.run_minibatch`` with
  ``core.optimizers.sgd`` and ``every`` = steps per epoch, as the service runs a dataset loss;
- hand: a plain NumPy loop as an engineer who cares about speed would write it — θ and ∇ are
  flat buffers with per-layer views made once, θ is updated in place (``∇ *= γ; θ −= ∇``),
  matmuls write the gradient views through ``out=``, linear regression works on vectors,
  the labels are one-hot, and a batch is gathered with ``X.take(rows, axis=0)`` (about 0.6 µs
  for 64 × 20 against 1.9 µs for ``X[rows]``). Where two ways were tried the faster is kept,
  so that the comparison does not flatter the core. The batch order is
  ``core.minibatch.Minibatches.order(epoch)``, the core's;
- torch: ``nn.Linear`` (or ``nn.Sequential(Linear, Tanh, Linear)``) in float64,
  ``torch.optim.SGD`` with its defaults, ``nn.MSELoss`` / ``nn.CrossEntropyLoss``; per epoch
  the same order as a tensor, batches by slicing it and ``index_select`` (no DataLoader), per
  step ``zero_grad``/forward/``backward``/``step``; per epoch the full loss with ``backward``
  for ‖∇f‖. The batch loss is left a tensor (no ``.item()`` per step), which favours torch;
- torch DataLoader: the same, but batches from ``DataLoader(TensorDataset(X, y),
  batch_size=64, sampler=<the core's order>)`` — what most torch code writes, and what it
  costs (the default collation gathers 64 single examples and stacks them).

Timing. Each figure is the best (``--statistic median``: the median) of ``--repeat`` runs,
after one warm-up, the implementations interleaved so drift in the machine's speed hits all
alike, measured in this process's CPU time (``--clock wall``: elapsed time): on a shared
machine other processes only ever add time, and CPU time does not count the time they hold
the CPUs. NumPy's OpenBLAS and torch get ``--threads`` threads (default 1): a 64-row step is
below both libraries' threading thresholds anyway, and on a loaded two-CPU machine a second
BLAS thread made a 10,000-row product 3–10 times slower, not faster. Besides whole runs, the
table gives the same runs without the full-data evaluations (the hand and torch loops skip
them; the core runs on ``StepsOnly``, the loss with its full-data evaluation stubbed out), and
one full-data evaluation timed on its own: an evaluation of the MLP costs about as much as an
epoch of steps, so whole runs alone would hide the stepping's cost.

Agreement. Before timing, every run (with and without the evaluations) must end at the
core's final θ — to 1e-10 relative for the hand loop, 1e-8 for torch (float64, the same θ₀
and batches) — or the script stops: a loop that trains something else is not worth timing.
The differences, and those of f after each epoch, are printed.

All figures come from one run on one machine; compare ratios, not absolute times. The
machine's load during the run (load average, and the CPUs' busy share from /proc/stat: this
process's and the others') is printed with them.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import math
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from core import optimizers
from core.datasets import generate, standardize
from core.losses import Array
from core.minibatch import Minibatches, MinibatchLoss, MinibatchRun, run_minibatch
from core.models import DatasetLoss, linear_regression, mlp, softmax_regression
from core.run import Reason, StopRule, grad_norm, start_iterate
from core.schedules import constant

EXAMPLES = 10_000
FEATURES = 20
CLASSES = 10
HIDDEN = 64
BATCH_SIZE = 64
SEED = 20240611
TARGET_HAND = 1.3
"""The core's time may be at most this multiple of the hand loop's."""
HAND_AGREEMENT = 1e-10
"""Largest relative difference allowed between the hand loop's final θ and the core's."""
TORCH_AGREEMENT = 1e-8
"""Largest relative difference allowed between torch's final θ and the core's."""
MODELS = ("linear", "softmax", "mlp")
IMPLEMENTATIONS = ("core", "hand", "torch", "torch_loader")
LABELS = {
    "core": "core",
    "hand": "hand NumPy",
    "torch": "torch",
    "torch_loader": "torch DataLoader",
}

Layers = list[tuple[Array, Array]]
"""(W of shape (fan_in, fan_out), b of shape (fan_out,)) per layer: views into a flat θ."""
BatchLoss = Callable[[Array, Array], float]
"""``(X batch, T batch) -> batch loss``, writing the gradient into the loop's ∇ buffer."""


class Outcome(NamedTuple):
    """A run's final θ, and f and ‖∇f‖ on the full data at the start and after each epoch."""

    theta: Array
    losses: Array
    norms: Array


@dataclass(frozen=True)
class Problem:
    """A model on its data: the core's loss, the same data for the hand and torch loops
    (inputs X, targets T: y of shape (m,) for regression, one-hot (m, k) for classification;
    torch gets y as (m, 1) or the integer labels), the layer shapes of θ's layout, and a
    learning rate."""

    name: str
    loss: DatasetLoss
    X: Array
    T: Array
    labels: NDArray[np.int64] | None
    shapes: tuple[tuple[int, int], ...]
    lr: float


def problems(names: Sequence[str]) -> list[Problem]:
    """The benchmark's models, in the order of ``names``."""
    made: list[Problem] = []
    regression = generate("linear", n=EXAMPLES, seed=SEED, features=FEATURES)
    blobs = generate("blobs", n=EXAMPLES, seed=SEED, features=FEATURES, classes=CLASSES)
    X_blobs = np.ascontiguousarray(standardize(blobs.X)[0])
    onehot = np.eye(CLASSES)[blobs.y.astype(np.intp)]
    labels = blobs.y.astype(np.int64)
    for name in names:
        if name == "linear":
            loss = linear_regression(regression.X, regression.y)
            made.append(
                Problem(name, loss, regression.X, regression.y, None, ((FEATURES, 1),), 0.05)
            )
        elif name == "softmax":
            loss = softmax_regression(X_blobs, blobs.y, classes=CLASSES)
            made.append(Problem(name, loss, X_blobs, onehot, labels, ((FEATURES, CLASSES),), 0.1))
        elif name == "mlp":
            loss = mlp(
                X_blobs, blobs.y, hidden=[HIDDEN], activation="tanh",
                task="classification", classes=CLASSES,
            )  # fmt: skip
            shapes = ((FEATURES, HIDDEN), (HIDDEN, CLASSES))
            made.append(Problem(name, loss, X_blobs, onehot, labels, shapes, 0.1))
        else:
            raise SystemExit(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    return made


def layers_of(theta: Array, shapes: Sequence[tuple[int, int]]) -> Layers:
    """Views (W, b) into a flat θ laid out as core.models documents: per layer W (fan_in,
    fan_out) row-major, then b."""
    layers: Layers = []
    at = 0
    for fan_in, fan_out in shapes:
        W = theta[at : at + fan_in * fan_out].reshape(fan_in, fan_out)
        at += fan_in * fan_out
        layers.append((W, theta[at : at + fan_out]))
        at += fan_out
    assert at == theta.shape[0], "the layer shapes do not cover θ"
    return layers


# -- the core ----------------------------------------------------------------------------------


def core_run(
    problem: Problem,
    theta0: Array,
    batches: Minibatches,
    epochs: int,
    loss: MinibatchLoss | None = None,
) -> MinibatchRun:
    """The service's path: the start iterate (f, ∇f at θ₀), then ``run_minibatch`` recording
    once per epoch; on ``problem.loss`` or on ``loss`` in its place."""
    loss = problem.loss if loss is None else loss
    optimizer = optimizers.sgd(constant(problem.lr))
    steps = epochs * batches.steps_per_epoch
    return run_minibatch(
        loss,
        optimizer,
        start_iterate(loss, optimizer, theta0[np.newaxis]),
        loss.init_stats(),
        batches,
        StopRule(max_steps=steps),
        steps=steps,
        every=batches.steps_per_epoch,
    )


class StepsOnly:
    """A dataset loss with its full-data evaluation stubbed out (f = 0, ∇f = 0 at no cost):
    the core's loop on it is the stepping alone. Mini-batches are the real loss's."""

    def __init__(self, loss: DatasetLoss) -> None:
        self._loss = loss
        self.batch_value_and_grad = loss.batch_value_and_grad
        self.init_stats = loss.init_stats

    @property
    def names(self) -> tuple[str, ...]:
        return self._loss.names

    @property
    def size(self) -> int:
        return self._loss.size

    def value(self, theta: Array) -> Array:
        return np.zeros(theta.shape[:-1])

    def value_and_grad(self, theta: Array) -> tuple[Array, Array]:
        return np.zeros(theta.shape[:-1]), np.zeros_like(theta)

    def hessian(self, theta: Array) -> Array:
        raise NotImplementedError("the stub has no Hessian")


def core_outcome(trained: MinibatchRun) -> Outcome:
    result = trained.result
    stopped = {reason for reason in result.reasons if reason is not Reason.MAX_STEPS}
    if stopped:
        raise SystemExit(f"the core run stopped early ({sorted(stopped)}); pick another lr")
    trajectory = result.trajectory
    return Outcome(result.final.params[0], trajectory.loss[:, 0], trajectory.grad_norm[:, 0])


def core_evaluation(loss: DatasetLoss, theta: Array) -> float:
    """What the core's loop computes at a recorded point: f, ∇f and ‖∇f‖ on all examples."""
    _, grad = loss.value_and_grad(theta)
    return float(grad_norm(grad))


# -- hand-written NumPy ------------------------------------------------------------------------


def linear_batch_loss(theta: Array, grad: Array, shapes: Sequence[tuple[int, int]]) -> BatchLoss:
    """mse = mean((Xw + b − y)²) and its gradient, on vectors: w, b and ∇ as 1-D views (a
    matrix-vector product is about 0.5 µs a step faster than with w as a (d, 1) matrix)."""
    ((w, b),) = layers_of(theta, shapes)
    ((gw, gb),) = layers_of(grad, shapes)
    w, gw = w[:, 0], gw[:, 0]

    def batch_loss(X: Array, y: Array) -> float:
        r = X @ w
        r += b
        r -= y
        n = len(r)
        value = float(r.dot(r)) / n
        r *= 2.0 / n
        np.matmul(X.T, r, out=gw)
        gb[0] = r.sum()
        return value

    return batch_loss


def _softmax_cross_entropy(Z: Array, T: Array) -> tuple[float, Array]:
    """(mean(logsumexp(Zᵢ) − Zᵢ·Tᵢ), ∂/∂Z = (softmax(Z) − T)/n), Z overwritten."""
    n = Z.shape[0]
    Z -= Z.max(axis=1, keepdims=True)
    E = np.exp(Z)
    total = E.sum(axis=1, keepdims=True)
    value = (float(np.log(total).sum()) - float(np.vdot(T, Z))) / n
    E /= total
    E -= T
    E *= 1.0 / n
    return value, E


def softmax_batch_loss(theta: Array, grad: Array, shapes: Sequence[tuple[int, int]]) -> BatchLoss:
    """Softmax regression's cross-entropy and its gradient."""
    ((W, b),) = layers_of(theta, shapes)
    ((gW, gb),) = layers_of(grad, shapes)

    def batch_loss(X: Array, T: Array) -> float:
        Z = X @ W
        Z += b
        value, dZ = _softmax_cross_entropy(Z, T)
        np.matmul(X.T, dZ, out=gW)
        dZ.sum(axis=0, out=gb)
        return value

    return batch_loss


def mlp_batch_loss(theta: Array, grad: Array, shapes: Sequence[tuple[int, int]]) -> BatchLoss:
    """One tanh hidden layer, softmax cross-entropy on the outputs, and backpropagation."""
    (W1, b1), (W2, b2) = layers_of(theta, shapes)
    (gW1, gb1), (gW2, gb2) = layers_of(grad, shapes)

    def batch_loss(X: Array, T: Array) -> float:
        A = X @ W1
        A += b1
        np.tanh(A, out=A)
        Z = A @ W2
        Z += b2
        value, dZ = _softmax_cross_entropy(Z, T)
        np.matmul(A.T, dZ, out=gW2)
        dZ.sum(axis=0, out=gb2)
        dA = dZ @ W2.T
        A *= A
        np.subtract(1.0, A, out=A)
        dA *= A
        np.matmul(X.T, dA, out=gW1)
        dA.sum(axis=0, out=gb1)
        return value

    return batch_loss


HAND_MODELS: dict[str, Callable[[Array, Array, Sequence[tuple[int, int]]], BatchLoss]] = {
    "linear": linear_batch_loss,
    "softmax": softmax_batch_loss,
    "mlp": mlp_batch_loss,
}


def hand_run(
    problem: Problem, theta0: Array, batches: Minibatches, epochs: int, *, evaluate: bool = True
) -> Outcome:
    """The loop by hand: per epoch the permutation, per step gather, forward, backward and
    θ −= γ∇ in place; f and ‖∇f‖ on the full data at the start and after every epoch (NaN
    without ``evaluate``)."""
    X, T, lr = problem.X, problem.T, problem.lr
    theta = theta0.copy()
    grad = np.empty_like(theta)
    batch_loss = HAND_MODELS[problem.name](theta, grad, problem.shapes)
    size, m = batches.batch_size, X.shape[0]
    losses = np.full(epochs + 1, np.nan)
    norms = np.full(epochs + 1, np.nan)
    if evaluate:
        losses[0] = batch_loss(X, T)
        norms[0] = math.sqrt(grad.dot(grad))
    for epoch in range(epochs):
        order = batches.order(epoch)
        for start in range(0, m, size):
            rows = order[start : start + size]
            batch_loss(X.take(rows, axis=0), T.take(rows, axis=0))
            grad *= lr
            theta -= grad
        if evaluate:
            losses[epoch + 1] = batch_loss(X, T)
            norms[epoch + 1] = math.sqrt(grad.dot(grad))
    return Outcome(theta, losses, norms)


def hand_evaluation(problem: Problem, theta0: Array) -> Callable[[], float]:
    """The hand loop's full-data evaluation at θ₀: f, ∇f and ‖∇f‖."""
    theta = theta0.copy()
    grad = np.empty_like(theta)
    batch_loss = HAND_MODELS[problem.name](theta, grad, problem.shapes)

    def evaluate() -> float:
        batch_loss(problem.X, problem.T)
        return math.sqrt(grad.dot(grad))

    return evaluate


# -- torch -------------------------------------------------------------------------------------


def _load_torch(threads: int) -> Any | None:
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


def set_blas_threads(threads: int) -> int | None:
    """Sets the threads of the OpenBLAS that NumPy's wheel bundles, through its C API (as
    threadpoolctl does), and returns the count it reports; None when no such library is found
    (another BLAS: then its own environment variables decide)."""
    for library in sorted((Path(np.__file__).parent.parent / "numpy.libs").glob("*openblas*")):
        blas = ctypes.CDLL(str(library))
        for prefix, suffix in (("scipy_openblas", "64_"), ("scipy_openblas", ""), ("openblas", "")):
            setter = getattr(blas, f"{prefix}_set_num_threads{suffix}", None)
            getter = getattr(blas, f"{prefix}_get_num_threads{suffix}", None)
            if setter is not None and getter is not None:
                setter(ctypes.c_int(threads))
                count: int = getter()
                return count
    return None


def _torch_module(torch: Any, problem: Problem, theta0: Array) -> tuple[Any, list[Any]]:
    """The model as torch modules in float64 with θ₀'s values, and its Linear layers."""
    nn = torch.nn
    linears = [
        nn.Linear(fan_in, fan_out, dtype=torch.float64) for fan_in, fan_out in problem.shapes
    ]
    with torch.no_grad():
        for layer, (W, b) in zip(linears, layers_of(theta0, problem.shapes), strict=True):
            layer.weight.copy_(torch.from_numpy(W.T))
            layer.bias.copy_(torch.from_numpy(b))
    module = linears[0] if len(linears) == 1 else nn.Sequential(linears[0], nn.Tanh(), linears[1])
    return module, linears


def _torch_data(torch: Any, problem: Problem) -> tuple[Any, Any, Any]:
    """(X, targets, criterion): (m, 1) values and MSELoss, or integer labels and
    CrossEntropyLoss."""
    if problem.labels is not None:
        return (
            torch.from_numpy(problem.X),
            torch.from_numpy(problem.labels),
            torch.nn.CrossEntropyLoss(),
        )
    targets = torch.from_numpy(problem.T[:, None])
    return torch.from_numpy(problem.X), targets, torch.nn.MSELoss()


def _torch_flat(torch: Any, linears: list[Any]) -> Array:
    """θ in the core's layout: per layer Wᵀ (nn.Linear keeps (out, in)) row-major, then b."""
    parts = [part for layer in linears for part in (layer.weight.T.reshape(-1), layer.bias)]
    flat: Array = torch.cat(parts).detach().numpy().copy()
    return flat


def _torch_full(
    torch: Any, module: Any, optimizer: Any, criterion: Any, X: Any, T: Any
) -> tuple[float, float]:
    """f and ‖∇f‖ on the full data (a backward pass, then the gradients cleared)."""
    optimizer.zero_grad()
    value = criterion(module(X), T)
    value.backward()
    norm = torch.linalg.vector_norm(torch.cat([p.grad.reshape(-1) for p in module.parameters()]))
    optimizer.zero_grad()
    return float(value.item()), float(norm.item())


def torch_run(
    torch: Any,
    problem: Problem,
    theta0: Array,
    batches: Minibatches,
    epochs: int,
    *,
    evaluate: bool = True,
) -> Outcome:
    """nn + torch.optim.SGD, batches by slicing the epoch's order and ``index_select``."""
    module, linears = _torch_module(torch, problem, theta0)
    optimizer = torch.optim.SGD(module.parameters(), lr=problem.lr)
    X, T, criterion = _torch_data(torch, problem)
    size, m = batches.batch_size, X.shape[0]
    losses = np.full(epochs + 1, np.nan)
    norms = np.full(epochs + 1, np.nan)
    if evaluate:
        losses[0], norms[0] = _torch_full(torch, module, optimizer, criterion, X, T)
    for epoch in range(epochs):
        order = torch.from_numpy(batches.order(epoch))
        for start in range(0, m, size):
            rows = order[start : start + size]
            optimizer.zero_grad()
            loss = criterion(module(X.index_select(0, rows)), T.index_select(0, rows))
            loss.backward()
            optimizer.step()
        if evaluate:
            full = _torch_full(torch, module, optimizer, criterion, X, T)
            losses[epoch + 1], norms[epoch + 1] = full
    return Outcome(_torch_flat(torch, linears), losses, norms)


def torch_evaluation(torch: Any, problem: Problem, theta0: Array) -> Callable[[], object]:
    """torch's full-data evaluation at θ₀, as ``torch_run`` does it once per epoch."""
    module, _ = _torch_module(torch, problem, theta0)
    optimizer = torch.optim.SGD(module.parameters(), lr=problem.lr)
    X, T, criterion = _torch_data(torch, problem)
    return partial(_torch_full, torch, module, optimizer, criterion, X, T)


class _EpochOrder:
    """A sampler yielding the core's example order of one epoch after another."""

    def __init__(self, batches: Minibatches) -> None:
        self.batches = batches
        self.epoch = 0

    def __iter__(self) -> Any:
        order = self.batches.order(self.epoch)
        self.epoch += 1
        return iter(order.tolist())

    def __len__(self) -> int:
        return self.batches.size


def torch_loader_run(
    torch: Any,
    problem: Problem,
    theta0: Array,
    batches: Minibatches,
    epochs: int,
    *,
    evaluate: bool = True,
) -> Outcome:
    """As ``torch_run``, with the batches from a DataLoader over a TensorDataset."""
    data = importlib.import_module("torch.utils.data")
    module, linears = _torch_module(torch, problem, theta0)
    optimizer = torch.optim.SGD(module.parameters(), lr=problem.lr)
    X, T, criterion = _torch_data(torch, problem)
    loader = data.DataLoader(
        data.TensorDataset(X, T), batch_size=batches.batch_size, sampler=_EpochOrder(batches)
    )
    losses = np.full(epochs + 1, np.nan)
    norms = np.full(epochs + 1, np.nan)
    if evaluate:
        losses[0], norms[0] = _torch_full(torch, module, optimizer, criterion, X, T)
    for epoch in range(epochs):
        for inputs, targets in loader:
            optimizer.zero_grad()
            loss = criterion(module(inputs), targets)
            loss.backward()
            optimizer.step()
        if evaluate:
            full = _torch_full(torch, module, optimizer, criterion, X, T)
            losses[epoch + 1], norms[epoch + 1] = full
    return Outcome(_torch_flat(torch, linears), losses, norms)


# -- measuring ---------------------------------------------------------------------------------


def relative_difference(a: Array, b: Array) -> float:
    """max|a − b| / max(max|b|, 1e-300)."""
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-300))


CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.process_time, "wall": time.perf_counter}


STATISTICS: dict[str, Callable[[list[float]], float]] = {"best": min, "median": statistics.median}


def timings(
    actions: dict[str, Callable[[], object]],
    repeats: int,
    clock: Callable[[], float],
    statistic: Callable[[list[float]], float],
) -> dict[str, float]:
    """Seconds per call of each action (``statistic`` over the calls): one warm-up each, then
    ``repeats`` rounds in which every action runs once (interleaved, so drift in the
    machine's speed hits all)."""
    for action in actions.values():
        action()
    times: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(repeats):
        for name, action in actions.items():
            began = clock()
            action()
            times[name].append(clock() - began)
    return {name: statistic(values) for name, values in times.items()}


class MachineLoad:
    """How busy the machine was between ``__init__`` and ``stop``: the CPUs' non-idle share
    from /proc/stat (Linux), and the part of it this process used."""

    def __init__(self) -> None:
        self.load_at_start = os.getloadavg()[0]
        self._stat = self._read_stat()
        self._process = time.process_time()
        self.busy: float | None = None
        self.ours: float | None = None

    @staticmethod
    def _read_stat() -> tuple[float, float] | None:
        """(busy, total) clock ticks of all CPUs together, or None without /proc/stat."""
        try:
            with open("/proc/stat", encoding="ascii") as stat:
                fields = [float(field) for field in stat.readline().split()[1:9]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + fields[4]  # idle, iowait
        return sum(fields) - idle, sum(fields)

    def stop(self) -> None:
        self.load_at_end = os.getloadavg()[0]
        ended = self._read_stat()
        if self._stat is not None and ended is not None and ended[1] > self._stat[1]:
            ticks = ended[1] - self._stat[1]
            self.busy = (ended[0] - self._stat[0]) / ticks
            tick = os.sysconf("SC_CLK_TCK")
            self.ours = (time.process_time() - self._process) * tick / ticks

    def describe(self) -> str:
        cpus = os.cpu_count()
        text = (
            f"1-min load average {self.load_at_start:.2f} at the start, "
            f"{self.load_at_end:.2f} at the end, {cpus} CPUs"
        )
        if self.busy is not None and self.ours is not None:
            others = max(0.0, self.busy - self.ours)
            text += (
                f"; CPUs {self.busy:.0%} busy during the run, this process {self.ours:.0%}, "
                f"others {others:.0%} (of all {cpus} CPUs' time)"
            )
        return text


@dataclass
class Result:
    """One model's figures — seconds per whole run, per run without the full-data
    evaluations, and per full-data evaluation, by implementation — and the agreement of the
    final θ and of the per-epoch full loss with the core's."""

    problem: str
    steps: int
    seconds: dict[str, float]
    """Per whole run."""
    stepping: dict[str, float]
    """Per run without the full-data evaluations (the core's stubbed out with ``StepsOnly``)."""
    evaluation: dict[str, float]
    """Per full-data evaluation (f, ∇f and ‖∇f‖ on all examples), timed on its own."""
    theta_difference: dict[str, float]
    loss_difference: dict[str, float]

    def per_step(self, name: str, stepping: bool = False) -> float | None:
        seconds = (self.stepping if stepping else self.seconds).get(name)
        return None if seconds is None else seconds / self.steps

    def ratio(self, name: str, stepping: bool = False) -> float | None:
        """The core's time over ``name``'s."""
        times = self.stepping if stepping else self.seconds
        seconds = times.get(name)
        return None if seconds is None else times["core"] / seconds


def measure(
    problem: Problem,
    epochs: int,
    repeats: int,
    torch: Any | None,
    clock: Callable[[], float],
    statistic: Callable[[list[float]], float],
) -> Result:
    """Checks that the implementations train the same θ, then times them."""
    batches = Minibatches(EXAMPLES, BATCH_SIZE, shuffle=True, seed=SEED)
    theta0 = problem.loss.initial_params(SEED)
    steps_only = StepsOnly(problem.loss)
    runs: dict[str, Callable[[bool], Outcome]] = {
        "core": lambda evaluate: core_outcome(
            core_run(problem, theta0, batches, epochs, None if evaluate else steps_only)
        ),
        "hand": lambda evaluate: hand_run(problem, theta0, batches, epochs, evaluate=evaluate),
    }
    evaluations: dict[str, Callable[[], object]] = {
        "core": partial(core_evaluation, problem.loss, theta0),
        "hand": hand_evaluation(problem, theta0),
    }
    if torch is not None:
        runs["torch"] = lambda evaluate: torch_run(
            torch, problem, theta0, batches, epochs, evaluate=evaluate
        )
        runs["torch_loader"] = lambda evaluate: torch_loader_run(
            torch, problem, theta0, batches, epochs, evaluate=evaluate
        )
        evaluations["torch"] = torch_evaluation(torch, problem, theta0)

    # Correctness first: every run, with and without the evaluations, must reach the core's θ.
    core = runs["core"](True)
    theta_difference, loss_difference = {}, {}
    for name, run in runs.items():
        allowed = HAND_AGREEMENT if name in ("core", "hand") else TORCH_AGREEMENT
        for evaluate in (True, False):
            outcome = core if name == "core" and evaluate else run(evaluate)
            difference = relative_difference(outcome.theta, core.theta)
            if not difference <= allowed:
                raise SystemExit(
                    f"{problem.name}: {LABELS[name]}'s final θ "
                    f"{'' if evaluate else 'without the evaluations '}differs from the "
                    f"core's by {difference:.2e} relative (allowed {allowed:g})"
                )
            if evaluate and name != "core":
                theta_difference[name] = difference
                loss_difference[name] = relative_difference(outcome.losses, core.losses)

    actions: dict[str, Callable[[], object]] = {}
    for name, run in runs.items():
        actions[name] = partial(run, True)
        actions[f"{name} stepping"] = partial(run, False)
    for name, evaluation_action in evaluations.items():
        actions[f"{name} evaluation"] = evaluation_action
    seconds = timings(actions, repeats, clock, statistic)
    stepping = {name: seconds.pop(f"{name} stepping") for name in runs}
    evaluation = {name: seconds.pop(f"{name} evaluation") for name in evaluations}
    if "torch" in evaluation:
        evaluation["torch_loader"] = evaluation["torch"]
    return Result(
        problem.name,
        epochs * batches.steps_per_epoch,
        seconds,
        stepping,
        evaluation,
        theta_difference,
        loss_difference,
    )


# -- the report --------------------------------------------------------------------------------


def _threads(count: int) -> str:
    return f"{count} thread{'' if count == 1 else 's'}"


def _cell(value: float | None, spec: str, width: int) -> str:
    return f"{'n/a':>{width}}" if value is None else f"{value:>{width}{spec}}"


def report(
    results: list[Result],
    epochs: int,
    timing: str,
    torch: Any | None,
    blas_threads: int | None,
    load: MachineLoad,
    torch_absent: str = "torch not importable",
) -> None:
    batches = Minibatches(EXAMPLES, BATCH_SIZE, shuffle=True, seed=SEED)
    torch_name = (
        torch_absent
        if torch is None
        else f"torch {torch.__version__} with {_threads(torch.get_num_threads())}"
    )
    blas = "threads unknown" if blas_threads is None else _threads(blas_threads)
    print(
        f"Mini-batch SGD on {EXAMPLES:,} × {FEATURES}, batch {BATCH_SIZE}, "
        f"{epochs} epoch{'' if epochs == 1 else 's'} of "
        f"{batches.steps_per_epoch} steps, f and ‖∇f‖ on the full data at the start and once "
        f"per epoch; {timing} (numpy {np.__version__} with "
        f"OpenBLAS {blas}, {torch_name})"
    )
    print(f"({load.describe()})")
    header = (
        f"{'model':<8} {'implementation':<17} {'steps/s':>9} {'µs/step':>9} {'core/this':>9}"
        f" │ {'steps/s':>9} {'µs/step':>9} {'core/this':>9} │ {'eval ms':>8}"
    )
    print(f"{'':<27}{'whole run':^29} │ {'without the evaluations':^29} │ {'one eval':>8}")
    print(header)
    print("─" * len(header))
    for result in results:
        for name in IMPLEMENTATIONS:
            core = name == "core"
            cells = []
            for stepping in (False, True):
                per_step = result.per_step(name, stepping)
                ratio = None if core else result.ratio(name, stepping)
                cells.append(
                    f"{_cell(None if per_step is None else 1.0 / per_step, ',.0f', 9)} "
                    f"{_cell(None if per_step is None else per_step * 1e6, '.1f', 9)} "
                    f"{' ' * 9 if core else _cell(ratio, '.2f', 9)}"
                )
            evaluation = result.evaluation.get(name)
            print(
                f"{result.problem if core else '':<8} {LABELS[name]:<17} "
                + " │ ".join(cells)
                + f" │ {_cell(None if evaluation is None else evaluation * 1e3, '.2f', 8)}"
            )
    print(
        "(core/this: the core's time over this implementation's, below 1 the core is faster. "
        "Without the\n evaluations: the same runs without the full-data f, ∇f and ‖∇f‖ at the "
        f"start and after each epoch\n ({epochs + 1} per run); one eval: one of them, timed "
        "on its own.)"
    )

    print()
    print("Agreement with the core (relative, after the run; the same θ₀ and batches):")
    for result in results:
        parts = [
            f"{LABELS[name]} θ {result.theta_difference[name]:.1e}, "
            f"f per epoch {result.loss_difference[name]:.1e}"
            for name in IMPLEMENTATIONS
            if name in result.theta_difference
        ]
        print(f"  {result.problem:<8} " + "; ".join(parts))
    print(f"  (required: hand θ within {HAND_AGREEMENT:g}, torch θ within {TORCH_AGREEMENT:g})")

    print()
    _verdict(results, "hand", f"core within {TARGET_HAND}× of hand NumPy", TARGET_HAND)
    if torch is not None:
        _verdict(results, "torch", "core faster than torch (index_select batches)", 1.0)


def _verdict(results: list[Result], name: str, claim: str, limit: float) -> None:
    """Whether the core's time over ``name``'s is within ``limit`` for every model, judged on
    whole runs, with the ratios without the evaluations beside."""
    whole = [(result.problem, result.ratio(name)) for result in results]
    stepping = [(result.problem, result.ratio(name, stepping=True)) for result in results]
    met = all(ratio is not None and ratio <= limit for _, ratio in whole)
    print(
        f"{claim}: {'met' if met else 'NOT met'} — whole runs "
        + ", ".join(f"{model} {_cell(ratio, '.2f', 0)}×" for model, ratio in whole)
        + "; without the evaluations "
        + ", ".join(f"{model} {_cell(ratio, '.2f', 0)}×" for model, ratio in stepping)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5, help="epochs per run (default 5)")
    parser.add_argument("--repeat", type=int, default=9, help="timed runs per figure (default 9)")
    parser.add_argument(
        "--models",
        default=",".join(MODELS),
        help=f"comma-separated models among {', '.join(MODELS)} (default all)",
    )
    parser.add_argument(
        "--clock",
        choices=tuple(CLOCKS),
        default="cpu",
        help="cpu: this process's CPU time, which other processes cannot inflate by taking "
        "the CPUs (the default; with --threads above 1 it adds up all threads); wall: elapsed "
        "time",
    )
    parser.add_argument(
        "--statistic",
        choices=tuple(STATISTICS),
        default="best",
        help="best: the fastest of the runs (the default; other processes only ever add "
        "time); median",
    )
    parser.add_argument("--no-torch", action="store_true", help="leave torch out")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads of NumPy's OpenBLAS and of torch (default 1)",
    )
    args = parser.parse_args()
    names = [name.strip() for name in args.models.split(",") if name.strip()]

    load = MachineLoad()
    blas_threads = set_blas_threads(args.threads)
    torch = None if args.no_torch else _load_torch(args.threads)
    clock, statistic = CLOCKS[args.clock], STATISTICS[args.statistic]
    results = [
        measure(problem, args.epochs, args.repeat, torch, clock, statistic)
        for problem in problems(names)
    ]
    load.stop()
    timing = f"{args.statistic} of {args.repeat} runs, {args.clock} time"
    absent = "torch left out (--no-torch)" if args.no_torch else "torch not importable"
    report(results, args.epochs, timing, torch, blas_threads, load, absent)


if __name__ == "__main__":
    main()
