"""Mini-batch training: one optimizer step per mini-batch of a dataset loss.

The order of the examples in epoch e is a pure function of (seed, e): a permutation drawn from
``numpy.random.default_rng([seed, e])`` (or the natural order without shuffling). The sampler's
whole state is therefore (seed, steps taken): a run resumed at any step, in this process or
after a restart, sees exactly the batches an uninterrupted run would have seen. Each epoch is
⌈m / batch_size⌉ steps; its last batch holds the remainder (torch's DataLoader without
``drop_last``).

Step t (t = 1, 2, …) evaluates the mini-batch loss and gradient at θ_{t−1} and applies the
optimizer to that gradient. The full-data objective f and ∇f are evaluated only where the
trajectory records a point (and at the last point), because one full pass can cost as much as
an epoch of steps; the stopping tests that read f or ∇f (``grad_tol``, ``loss_tol``,
``max_abs_loss``) are applied at those points. Every step checks that the mini-batch loss is
finite and that θ stays within ``max_abs_param``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import NamedTuple, Protocol

import numpy as np
from numpy.typing import NDArray

from core.losses import Array, Loss
from core.run import (
    Iterate,
    Reason,
    RunResult,
    StopRule,
    _Recording,
    array_leaves,
    grad_norm,
)
from core.schedules import Schedule
from core.transforms import GradientTransformation
from core.tree import tree_map

Stats = tuple[Array, ...]
"""A model's running statistics (batch normalisation's running means and variances)."""

Rows = NDArray[np.intp] | None
"""The examples of a mini-batch; None means every example in their stored order."""


class MinibatchLoss(Loss, Protocol):
    """A loss on m examples that also gives the loss on a subset of them."""

    @property
    def size(self) -> int:
        """The number of examples m."""
        ...

    def init_stats(self) -> Stats:
        """The running statistics before any step."""
        ...

    def batch_value_and_grad(
        self, theta: Array, rows: Rows, stats: Stats
    ) -> tuple[float, Array, Stats]:
        """The mini-batch loss and gradient at θ of shape (n,), and the statistics after it."""
        ...


class Minibatches(NamedTuple):
    """How a dataset of ``size`` examples is cut into mini-batches."""

    size: int
    batch_size: int
    shuffle: bool
    seed: int

    @property
    def full(self) -> bool:
        """Whether every step sees the whole dataset (then order does not matter)."""
        return self.batch_size >= self.size

    @property
    def steps_per_epoch(self) -> int:
        """⌈m / batch_size⌉."""
        return math.ceil(self.size / self.batch_size)

    def order(self, epoch: int) -> NDArray[np.intp]:
        """The example order of ``epoch`` (0-based)."""
        if not self.shuffle or self.full:
            return np.arange(self.size)
        order: NDArray[np.intp] = np.random.default_rng([self.seed, epoch]).permutation(self.size)
        return order

    def epochs(self, steps: NDArray[np.int64]) -> Array:
        """Passes over the data after each step count: examples seen / m (1.0 = one epoch)."""
        whole, within = np.divmod(steps, self.steps_per_epoch)
        seen = whole * self.size + np.minimum(within * self.batch_size, self.size)
        epochs: Array = seen / self.size
        return epochs


def per_epoch(schedule: Schedule, steps_per_epoch: int) -> Schedule:
    """The schedule counted in completed epochs: γ_k = schedule(⌊k / steps_per_epoch⌋)."""
    return lambda k: schedule(k // steps_per_epoch)


class MinibatchRun(NamedTuple):
    """A mini-batch run: the run's result (f, ∇f of the full data at the recorded points),
    the running statistics at its last point, the mini-batch loss of the step reaching each
    recorded point (NaN at a start) and of the step reaching the last point."""

    result: RunResult
    stats: Stats
    batch_loss: Array
    last_batch_loss: float


def run_minibatch(
    loss: MinibatchLoss,
    optimizer: GradientTransformation,
    start: Iterate,
    stats: Stats,
    batches: Minibatches,
    rule: StopRule,
    *,
    steps: int,
    every: int = 1,
    record_start: bool = True,
    record_grad: bool = False,
    record_state: bool = False,
    deadline: float | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> MinibatchRun:
    """Takes up to ``steps`` mini-batch steps from ``start`` (one start: arrays (1, n)),
    never beyond ``rule.max_steps``; recording as ``core.run.run`` does."""
    steps = max(0, min(steps, rule.max_steps - start.step))
    recording = _Recording(
        start, steps, every, record_start=record_start, grad=record_grad, state=record_state
    )
    with np.errstate(all="ignore"):
        return _loop(loss, optimizer, start, stats, batches, rule, recording, deadline, clock)


def _loop(
    loss: MinibatchLoss,
    optimizer: GradientTransformation,
    start: Iterate,
    stats: Stats,
    batches: Minibatches,
    rule: StopRule,
    recording: _Recording,
    deadline: float | None,
    clock: Callable[[], float],
) -> MinibatchRun:
    params = start.params[0]
    state = tree_map(
        lambda leaf: leaf[0] if isinstance(leaf, np.ndarray) else leaf, start.opt_state
    )
    step = start.step
    value, grad = float(start.loss[0]), start.grad[0]
    evaluated = step
    slot_of = recording.slot_of.tolist()
    out_params, out_loss, out_norm = (
        recording.params[:, 0],
        recording.loss[:, 0],
        recording.grad_norm[:, 0],
    )
    out_grad = None if recording.grad is None else recording.grad[:, 0]
    out_update = None if recording.update is None else recording.update[:, 0]
    out_state = None if recording.state is None else [leaf[:, 0] for leaf in recording.state]
    out_batch = np.full(len(recording.kept), np.nan)
    if slot_of[0] == 0:
        out_params[0], out_loss[0], out_norm[0] = params, value, grad_norm(grad)
        if out_grad is not None:
            out_grad[0] = grad
        if out_state is not None:
            for out, leaf in zip(out_state, array_leaves(state), strict=True):
                out[0] = leaf

    spe, size, full = batches.steps_per_epoch, batches.batch_size, batches.full
    epoch = step // spe
    order = batches.order(epoch)
    inf = np.inf
    inside = (rule.max_abs_param * (1 - 1e-9)) ** 2 if rule.max_abs_param < 1e150 else 0.0
    # The point before the last step, where a run ends when its last point turns out bad.
    before_params, before_state, before_stats = params, state, stats
    before_update: Array | None = None
    before_batch, before_step = math.nan, step
    last: Array | None = None
    last_batch = math.nan
    back = False
    reason = Reason.STEPS_DONE
    if rule.grad_tol > 0 and grad_norm(grad) <= rule.grad_tol:
        reason = Reason.GRAD_TOL
    else:
        for offset in range(1, recording.steps + 1):
            which, index = divmod(step, spe)
            if which != epoch:
                epoch, order = which, batches.order(which)
            rows = None if full else order[index * size : (index + 1) * size]
            batch_value, batch_grad, new_stats = loss.batch_value_and_grad(params, rows, stats)
            if not abs(batch_value) < inf:
                # θ_{t−1} has a non-finite loss on some examples, so on the whole data too.
                reason, back = Reason.NON_FINITE, True
                break
            updates, new_state = optimizer.update(batch_grad, state, params)
            new_params = params + updates
            if not (
                new_params.dot(new_params) <= inside
                or np.abs(new_params).max() <= rule.max_abs_param
            ):
                reason = Reason.PARAM_BOUND
                break
            before_params, before_state, before_stats = params, state, stats
            before_update, before_batch, before_step = last, last_batch, step
            params, state, stats = new_params, new_state, new_stats
            last, last_batch = updates, batch_value
            step += 1
            slot = slot_of[offset]
            if slot < 0 and offset < recording.steps:
                if deadline is not None and clock() >= deadline:
                    reason = Reason.TIME_LIMIT
                    break
                continue
            full_value, grad = loss.value_and_grad(params)
            evaluated = step
            norm = grad_norm(grad)
            if not (abs(full_value) <= rule.max_abs_loss and norm < inf):
                finite = math.isfinite(full_value) and math.isfinite(norm)
                reason, back = (Reason.LOSS_BOUND if finite else Reason.NON_FINITE), True
                break
            flat = rule.loss_tol > 0 and abs(full_value - value) <= rule.loss_tol
            value = float(full_value)
            if slot >= 0:
                out_params[slot], out_loss[slot], out_norm[slot] = params, value, norm
                out_batch[slot] = batch_value
                if out_grad is not None:
                    out_grad[slot] = grad
                if out_update is not None and out_state is not None:
                    out_update[slot] = updates
                    for out, leaf in zip(out_state, array_leaves(state), strict=True):
                        out[slot] = leaf
            if rule.grad_tol > 0 and norm <= rule.grad_tol:
                reason = Reason.GRAD_TOL
                break
            if flat:
                reason = Reason.LOSS_TOL
                break
            if deadline is not None and clock() >= deadline:
                reason = Reason.TIME_LIMIT
                break
        else:
            if step >= rule.max_steps:
                reason = Reason.MAX_STEPS

    if back:
        params, state, stats = before_params, before_state, before_stats
        last, last_batch, step = before_update, before_batch, before_step
    if evaluated != step:
        at, grad = loss.value_and_grad(params)
        value = float(at)
    final = Iterate(
        params[np.newaxis],
        np.reshape(value, 1),
        grad[np.newaxis],
        tree_map(lambda leaf: leaf[np.newaxis] if isinstance(leaf, np.ndarray) else leaf, state),
        step,
    )
    nit = np.array([step], dtype=np.int64)
    update = np.full_like(final.params, np.nan) if last is None else last[np.newaxis]
    result = RunResult(final, [reason], nit, recording.trajectory(), update)
    return MinibatchRun(result, stats, out_batch, last_batch)
