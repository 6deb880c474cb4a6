"""The run loop: turns a loss, an optimizer and a stopping rule into a trajectory and a status.

The loop works on a batch of starts at once (arrays of shape ``(B, n)``); a single run is a batch
of one. Rows stop independently: a stopped row is dropped from the arrays being stepped, so the
rows still running cost what a smaller batch would. Trajectories are written into preallocated
arrays; the loop body allocates no Python objects beyond NumPy's own temporaries.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from core.losses import Array, Loss
from core.transforms import GradientTransformation
from core.tree import tree_leaves, tree_map


class Status(StrEnum):
    """Why a run stopped (``ready``: the steps asked for were taken and no rule fired)."""

    CONVERGED = "converged"
    MAX_STEPS = "max_steps"
    DIVERGED = "diverged"
    TIME_LIMIT = "time_limit"
    READY = "ready"


class Reason(StrEnum):
    """The rule behind a status, for the message."""

    GRAD_TOL = "grad_tol"
    LOSS_TOL = "loss_tol"
    MAX_STEPS = "max_steps"
    NON_FINITE = "non_finite"
    PARAM_BOUND = "param_bound"
    LOSS_BOUND = "loss_bound"
    TIME_LIMIT = "time_limit"
    STEPS_DONE = "steps_done"


_STATUS_OF = {
    Reason.GRAD_TOL: Status.CONVERGED,
    Reason.LOSS_TOL: Status.CONVERGED,
    Reason.MAX_STEPS: Status.MAX_STEPS,
    Reason.NON_FINITE: Status.DIVERGED,
    Reason.PARAM_BOUND: Status.DIVERGED,
    Reason.LOSS_BOUND: Status.DIVERGED,
    Reason.TIME_LIMIT: Status.TIME_LIMIT,
    Reason.STEPS_DONE: Status.READY,
}

_MESSAGES = {
    Reason.GRAD_TOL: "Converged: the gradient norm fell to {grad_tol:g} or below after {step} "
    "steps.",
    Reason.LOSS_TOL: "Converged: the loss changed by at most {loss_tol:g} at step {step}.",
    Reason.MAX_STEPS: "Stopped at the step limit of {max_steps} steps without meeting a "
    "convergence test.",
    Reason.NON_FINITE: "Diverged: step {next_step} produced a non-finite loss or gradient; the "
    "trajectory ends at the last finite point (step {step}). Try a smaller learning rate.",
    Reason.PARAM_BOUND: "Diverged: step {next_step} moved a parameter beyond ±{max_abs_param:g}; "
    "the trajectory ends at step {step}. Try a smaller learning rate.",
    Reason.LOSS_BOUND: "Diverged: step {next_step} made |loss| exceed {max_abs_loss:g}; the "
    "trajectory ends at step {step}. Try a smaller learning rate.",
    Reason.TIME_LIMIT: "Stopped by the time limit after {step} steps.",
    Reason.STEPS_DONE: "Took the requested steps; now at step {step}.",
}


@dataclass(frozen=True)
class StopRule:
    """When a run stops. A tolerance of 0 disables its test.

    - ``max_steps``: total steps, counted from step 0 of the run or session.
    - ``grad_tol``: converged once ‖∇f(θ_t)‖ ≤ grad_tol (also tested at the start).
    - ``loss_tol``: converged once |f(θ_t) − f(θ_{t−1})| ≤ loss_tol.
    - ``max_abs_param``, ``max_abs_loss``: diverged once a step leaves these bounds, or produces a
      non-finite value; the offending point is not kept.
    """

    max_steps: int
    grad_tol: float = 0.0
    loss_tol: float = 0.0
    max_abs_param: float = 1e12
    max_abs_loss: float = 1e100


def stop_message(reason: Reason, step: int, rule: StopRule) -> str:
    """One sentence explaining why a run stopped at ``step``."""
    return _MESSAGES[reason].format(
        step=step,
        next_step=step + 1,
        grad_tol=rule.grad_tol,
        loss_tol=rule.loss_tol,
        max_steps=rule.max_steps,
        max_abs_param=rule.max_abs_param,
        max_abs_loss=rule.max_abs_loss,
    )


def status_of(reason: Reason) -> Status:
    """The status a stopping reason reports."""
    return _STATUS_OF[reason]


class Iterate(NamedTuple):
    """Where a run stands: θ, f(θ), ∇f(θ), the optimizer state there and the steps taken."""

    params: Array
    loss: Array
    grad: Array
    opt_state: Any
    step: int


def start_iterate(loss: Loss, optimizer: GradientTransformation, params: Array) -> Iterate:
    """The iterate at step 0 for starts ``params`` of shape ``(B, n)``."""
    value, grad = loss.value_and_grad(params)
    return Iterate(params, value, grad, optimizer.init(params), 0)


class Trajectory(NamedTuple):
    """Recorded points: ``step`` (K,), ``params`` (K, B, n), ``loss`` and ``grad_norm`` (K, B).

    When asked for: ``grad`` (K, B, n); ``update`` (K, B, n), the change of θ made by the step
    reaching each point (NaN at the start); ``state``, the optimizer state's tree with every
    array leaf recorded as (K, B, ...) (read it with ``core.internals``). Row b is valid for
    steps up to that row's ``nit``."""

    step: NDArray[np.int64]
    params: Array
    loss: Array
    grad_norm: Array
    grad: Array | None
    update: Array | None
    state: Any


class RunResult(NamedTuple):
    """The outcome of ``run``: every row's last kept iterate, stopping reason and step count.

    ``final`` holds the rows' last iterates as batch arrays (params (B, n), loss (B,), grad
    (B, n), state arrays (B, ...)); ``last_update`` (B, n) is the change of θ made by the step
    that reached each (NaN where no step did). ``row(b)`` is row b's iterate as a batch of one:
    for a single start it is exactly where a session resumes.
    """

    final: Iterate
    reasons: list[Reason]
    nit: NDArray[np.int64]
    trajectory: Trajectory
    last_update: Array

    def row(self, b: int) -> Iterate:
        """Row ``b``'s last iterate, arrays of shape (1, ...); its step count is ``nit[b]``."""
        one = slice(b, b + 1)
        taken = int(self.nit[b]) - self.final.step
        state = tree_map(
            lambda leaf: (
                leaf[one]
                if isinstance(leaf, np.ndarray)
                else leaf + taken
                if isinstance(leaf, int)
                else leaf
            ),
            self.final.opt_state,
        )
        final = self.final
        return Iterate(final.params[one], final.loss[one], final.grad[one], state, int(self.nit[b]))

    def update_of(self, b: int) -> Array | None:
        """The change of θ that reached row ``b``'s last point (None if no step did)."""
        update = self.last_update[b : b + 1]
        return None if np.isnan(update).all() else update


_REASONS = list(Reason)
_CODES = {reason: code for code, reason in enumerate(_REASONS)}


def grad_norm(grad: Array) -> Array:
    """‖∇f‖ along the last axis (one kernel for a point and a batch, so they agree exactly)."""
    norm: Array = np.sqrt(np.vecdot(grad, grad))
    return norm


def _take_rows(tree: Any, rows: NDArray[np.intp]) -> Any:
    """Selects batch rows from every array leaf; Python scalars are shared by all rows."""
    return tree_map(lambda leaf: leaf[rows] if isinstance(leaf, np.ndarray) else leaf, tree)


def run(
    loss: Loss,
    optimizer: GradientTransformation,
    start: Iterate,
    rule: StopRule,
    *,
    steps: int,
    every: int = 1,
    record_start: bool = True,
    record_grad: bool = False,
    record_state: bool = False,
    deadline: float | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> RunResult:
    """Takes up to ``steps`` optimizer steps from ``start`` (never beyond ``rule.max_steps``).

    Records the start (if ``record_start``) and every step whose number is a multiple of
    ``every``; each row's last point is in ``final`` whether or not it was recorded; with
    ``record_state``, also each recorded step's update and optimizer state. Stops a row
    when a rule in ``rule`` fires, and every row at ``deadline`` (a ``clock()`` reading).
    """
    rows = start.params.shape[0]
    steps = max(0, min(steps, rule.max_steps - start.step))
    recording = _Recording(
        start, steps, every, record_start=record_start, grad=record_grad, state=record_state
    )
    with np.errstate(all="ignore"):
        if rows == 1:
            return _single_loop(loss, optimizer, start, rule, recording, deadline, clock)
        return _batch_loop(loss, optimizer, start, rule, recording, deadline, clock)


class _Recording:
    """Preallocated trajectory arrays and the slot of every step that is kept."""

    def __init__(
        self, start: Iterate, steps: int, every: int, *, record_start: bool, grad: bool, state: bool
    ) -> None:
        first_step = start.step
        rows, n = start.params.shape
        # The steps to take that are multiples of ``every``, after the start if it is kept.
        multiples = np.arange(
            (first_step // every + 1) * every, first_step + steps + 1, every, dtype=np.int64
        )
        start_step = np.array([first_step], dtype=np.int64)
        kept = np.concatenate((start_step, multiples)) if record_start else multiples
        self.first_step = first_step
        self.steps = steps
        self.kept = kept
        self.slot_of = np.full(steps + 1, -1, dtype=np.int64)
        self.slot_of[self.kept - first_step] = np.arange(len(kept))
        size = len(kept)
        self.params = np.full((size, rows, n), np.nan)
        self.loss = np.full((size, rows), np.nan)
        self.grad_norm = np.full((size, rows), np.nan)
        self.grad = np.full((size, rows, n), np.nan) if grad else None
        self.update = np.full((size, rows, n), np.nan) if state else None
        self.state_template = start.opt_state
        self.state: list[Array] | None = None
        if state:
            self.state = [
                np.full((size, *leaf.shape), np.nan) for leaf in array_leaves(start.opt_state)
            ]

    def trajectory(self) -> Trajectory:
        state = None
        if self.state is not None:
            recorded = iter(self.state)
            state = tree_map(
                lambda leaf: next(recorded) if isinstance(leaf, np.ndarray) else leaf,
                self.state_template,
            )
        return Trajectory(
            self.kept, self.params, self.loss, self.grad_norm, self.grad, self.update, state
        )


def array_leaves(tree: Any) -> list[Array]:
    """The array leaves of a state tree, in order."""
    return [leaf for leaf in tree_leaves(tree) if isinstance(leaf, np.ndarray)]


def _single_loop(
    loss: Loss,
    optimizer: GradientTransformation,
    start: Iterate,
    rule: StopRule,
    recording: _Recording,
    deadline: float | None,
    clock: Callable[[], float],
) -> RunResult:
    """One start, on arrays of shape (n,): the same arithmetic as a batch row, less overhead.

    f(θ) and ‖∇f‖ are kept as Python floats: tests and arithmetic on them cost a fraction of
    what they cost on 0-d arrays, and hold the same IEEE doubles. ‖∇f‖ is
    ``math.sqrt(g.dot(g))``: ``ndarray.dot`` of two vectors and ``np.vecdot`` (``grad_norm``)
    call the same dot kernel, and both square roots are correctly rounded, so the norms equal
    a batch row's bit for bit.
    """
    params, value, grad = start.params[0], float(start.loss[0]), start.grad[0]
    state = tree_map(
        lambda leaf: leaf[0] if isinstance(leaf, np.ndarray) else leaf, start.opt_state
    )
    step = start.step
    sqrt = math.sqrt
    norm = sqrt(grad.dot(grad))
    slot_of = recording.slot_of.tolist()  # list indexing is the cheapest per step
    out_params, out_loss, out_norm = (
        recording.params[:, 0],
        recording.loss[:, 0],
        recording.grad_norm[:, 0],
    )
    out_grad = None if recording.grad is None else recording.grad[:, 0]
    out_update = None if recording.update is None else recording.update[:, 0]
    out_state = None if recording.state is None else [leaf[:, 0] for leaf in recording.state]
    if slot_of[0] == 0:
        out_params[0], out_loss[0], out_norm[0] = params, value, norm
        if out_grad is not None:
            out_grad[0] = grad
        if out_state is not None:
            for out, leaf in zip(out_state, array_leaves(state), strict=True):
                out[0] = leaf

    # The rule's fields and the bound methods as locals: each is looked up on every step.
    optimizer_update, value_and_grad = optimizer.update, loss.value_and_grad
    # A loss may also offer ``point_value_and_grad(θ) -> (f, ∇f)`` for one point of shape (n,),
    # f a float, under the caller's np.errstate (``ExpressionLoss`` does): it skips what
    # value_and_grad repeats for any caller, its checks and its own np.errstate.
    point: Callable[[Array], tuple[float, Array]] | None = getattr(
        loss, "point_value_and_grad", None
    )
    grad_tol, loss_tol = rule.grad_tol, rule.loss_tol
    test_grad, test_loss = grad_tol > 0, loss_tol > 0
    max_abs_param, max_abs_loss = rule.max_abs_param, rule.max_abs_loss
    # ‖θ‖ within a slightly smaller bound implies every |θᵢ| within the bound (the margin
    # covers the rounding of the norm). For a few coordinates the cheapest norm is
    # ``math.hypot`` of the Python floats, which cannot overflow; beyond, ‖θ‖² as one dot
    # product, whose bound would overflow past 1e150, where the exact test decides alone.
    few = params.shape[0] <= 8
    near = max_abs_param * (1 - 1e-9)
    inside = near**2 if max_abs_param < 1e150 else 0.0
    hypot, inf = math.hypot, math.inf
    reason = Reason.STEPS_DONE
    last: Array | None = None
    if test_grad and norm <= grad_tol:
        reason = Reason.GRAD_TOL
    else:
        for offset in range(1, recording.steps + 1):
            updates, new_state = optimizer_update(grad, state, params)
            new_params = params + updates
            if point is None:
                new_value_array, new_grad = value_and_grad(new_params)
                new_value = float(new_value_array)
            else:
                new_value, new_grad = point(new_params)
            new_norm = sqrt(new_grad.dot(new_grad))
            # NaN fails every comparison; the exact test decides what the norm test leaves.
            within = (
                hypot(*new_params.tolist()) <= near if few else new_params.dot(new_params) <= inside
            )
            if not (
                (within or np.abs(new_params).max() <= max_abs_param)
                and abs(new_value) <= max_abs_loss
                and new_norm < inf
            ):
                reason = _divergence(new_params, new_value, new_norm, rule)
                break
            flat = test_loss and abs(new_value - value) <= loss_tol
            params, value, grad, norm, state = new_params, new_value, new_grad, new_norm, new_state
            last = updates
            step += 1
            slot = slot_of[offset]
            if slot >= 0:
                out_params[slot], out_loss[slot], out_norm[slot] = params, value, norm
                if out_grad is not None:
                    out_grad[slot] = grad
                if out_update is not None and out_state is not None:
                    out_update[slot] = updates
                    for out, leaf in zip(out_state, array_leaves(state), strict=True):
                        out[slot] = leaf
            if test_grad and norm <= grad_tol:
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

    final = Iterate(
        params[np.newaxis],
        np.full(1, value),
        grad[np.newaxis],
        tree_map(lambda leaf: leaf[np.newaxis] if isinstance(leaf, np.ndarray) else leaf, state),
        step,
    )
    nit = np.array([step], dtype=np.int64)
    update = np.full_like(final.params, np.nan) if last is None else last[np.newaxis]
    return RunResult(final, [reason], nit, recording.trajectory(), update)


def _divergence(params: Array, value: Array | float, norm: Array | float, rule: StopRule) -> Reason:
    """Which divergence test a new point fails (it fails at least one)."""
    if not (np.isfinite(value) and np.isfinite(norm)):
        return Reason.NON_FINITE
    if not np.abs(params).max() <= rule.max_abs_param:
        return Reason.PARAM_BOUND
    return Reason.LOSS_BOUND


def _batch_loop(
    loss: Loss,
    optimizer: GradientTransformation,
    start: Iterate,
    rule: StopRule,
    recording: _Recording,
    deadline: float | None,
    clock: Callable[[], float],
) -> RunResult:
    params, value, grad, state, first_step = start
    rows = params.shape[0]
    steps, slot_of = recording.steps, recording.slot_of
    out_params, out_loss, out_norm = recording.params, recording.loss, recording.grad_norm
    out_grad, out_update, out_state = recording.grad, recording.update, recording.state
    updates: Array | None = None
    final_params, final_value, final_grad = params.copy(), value.copy(), grad.copy()
    final_state = [leaf.copy() for leaf in array_leaves(state)]
    last_update = np.full_like(params, np.nan)
    last: Array | None = None
    codes = np.full(rows, _CODES[Reason.STEPS_DONE], dtype=np.int64)
    nit = np.full(rows, first_step, dtype=np.int64)
    active = np.arange(rows)
    everyone = True
    norm = grad_norm(grad)

    def record(slot: int) -> None:
        where = slice(None) if everyone else active
        out_params[slot, where] = params
        out_loss[slot, where] = value
        out_norm[slot, where] = norm
        if out_grad is not None:
            out_grad[slot, where] = grad
        if out_update is not None and out_state is not None:
            if updates is not None:
                out_update[slot, where] = updates
            for out, leaf in zip(out_state, array_leaves(state), strict=True):
                out[slot, where] = leaf

    def retire(mask: NDArray[np.bool_], reason: Reason, at: int, kept: tuple[Any, ...]) -> None:
        """Ends the rows in ``mask`` at step ``at`` with iterate pieces ``kept``."""
        if not mask.any():
            return
        kept_params, kept_value, kept_grad, kept_state, kept_update = kept
        ended = active[mask]
        final_params[ended] = kept_params[mask]
        final_value[ended] = kept_value[mask]
        final_grad[ended] = kept_grad[mask]
        for out, leaf in zip(final_state, array_leaves(kept_state), strict=True):
            out[ended] = leaf[mask]
        if kept_update is not None:
            last_update[ended] = kept_update[mask]
        codes[ended] = _CODES[reason]
        nit[ended] = at

    if slot_of[0] == 0:
        record(0)
    if rule.grad_tol > 0:
        done = norm <= rule.grad_tol
        if done.any():
            retire(done, Reason.GRAD_TOL, first_step, (params, value, grad, state, None))
            params, value, grad, norm = params[~done], value[~done], grad[~done], norm[~done]
            state = _take_rows(state, np.flatnonzero(~done))
            active = active[~done]
            everyone = False

    step = first_step
    inf = np.inf
    for offset in range(1, steps + 1):
        if active.size == 0:
            break
        step = first_step + offset
        updates, new_state = optimizer.update(grad, state, params)
        new_params = params + updates
        new_value, new_grad = loss.value_and_grad(new_params)
        new_norm = grad_norm(new_grad)

        # One reduction per quantity on the common path; NaN fails every comparison.
        if not (
            np.abs(new_params).max() <= rule.max_abs_param
            and np.abs(new_value).max() <= rule.max_abs_loss
            and new_norm.max() < inf
        ):
            non_finite = ~(np.isfinite(new_value) & np.isfinite(new_norm))
            param_out = ~non_finite & ~(np.abs(new_params).max(axis=-1) <= rule.max_abs_param)
            loss_out = ~non_finite & ~param_out & ~(np.abs(new_value) <= rule.max_abs_loss)
            old = (params, value, grad, state, last)
            retire(non_finite, Reason.NON_FINITE, step - 1, old)
            retire(param_out, Reason.PARAM_BOUND, step - 1, old)
            retire(loss_out, Reason.LOSS_BOUND, step - 1, old)
            keep = np.flatnonzero(~(non_finite | param_out | loss_out))
            new_params, new_value, new_grad, new_norm = (
                new_params[keep],
                new_value[keep],
                new_grad[keep],
                new_norm[keep],
            )
            new_state = _take_rows(new_state, keep)
            updates = updates[keep]
            value = value[keep]
            active = active[keep]
            everyone = False
            if active.size == 0:
                break
        flat = np.abs(new_value - value) <= rule.loss_tol if rule.loss_tol > 0 else None
        params, value, grad, norm, state = new_params, new_value, new_grad, new_norm, new_state
        last = updates
        slot = slot_of[offset]
        if slot >= 0:
            record(int(slot))

        converged = (
            norm <= rule.grad_tol if rule.grad_tol > 0 and norm.min() <= rule.grad_tol else None
        )
        stopped = _either(converged, flat if flat is not None and flat.any() else None)
        if deadline is not None and clock() >= deadline:
            now = (params, value, grad, state, last)
            if stopped is not None:
                _retire_converged(retire, converged, flat, step, now)
                retire(~stopped, Reason.TIME_LIMIT, step, now)
            else:
                retire(np.ones(active.size, dtype=bool), Reason.TIME_LIMIT, step, now)
            active = active[:0]
            break
        if stopped is not None:
            _retire_converged(retire, converged, flat, step, (params, value, grad, state, last))
            keep = np.flatnonzero(~stopped)
            params, value, grad, norm = params[keep], value[keep], grad[keep], norm[keep]
            last = updates[keep]
            state = _take_rows(state, keep)
            active = active[keep]
            everyone = False

    if active.size:
        reason = Reason.MAX_STEPS if step >= rule.max_steps else Reason.STEPS_DONE
        retire(np.ones(active.size, dtype=bool), reason, step, (params, value, grad, state, last))
    recorded = iter(final_state)
    state_at_end = tree_map(
        lambda leaf: next(recorded) if isinstance(leaf, np.ndarray) else leaf, start.opt_state
    )
    final = Iterate(final_params, final_value, final_grad, state_at_end, first_step)
    reasons = [_REASONS[code] for code in codes.tolist()]
    return RunResult(final, reasons, nit, recording.trajectory(), last_update)


def _either(
    first: NDArray[np.bool_] | None, second: NDArray[np.bool_] | None
) -> NDArray[np.bool_] | None:
    if first is None:
        return second
    if second is None:
        return first
    either: NDArray[np.bool_] = first | second
    return either


def _retire_converged(
    retire: Callable[[NDArray[np.bool_], Reason, int, tuple[Any, ...]], None],
    converged: NDArray[np.bool_] | None,
    flat: NDArray[np.bool_] | None,
    step: int,
    now: tuple[Any, ...],
) -> None:
    if converged is not None:
        retire(converged, Reason.GRAD_TOL, step, now)
    if flat is not None:
        retire(flat if converged is None else flat & ~converged, Reason.LOSS_TOL, step, now)
