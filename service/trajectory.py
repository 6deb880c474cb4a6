"""Columnar trajectories: cutting one start's points out of a run, joining and thinning them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from core.losses import Array
from core.minibatch import Minibatches
from core.run import RunResult, grad_norm
from core.schedules import Schedule

Internals = Callable[[Any], dict[str, Array]]
"""Reads the named optimizer internals off a state tree (``core.internals``)."""


class Columns(NamedTuple):
    """Entry i of every column describes point i. Optional columns are None when not recorded:
    ``grad``; ``update`` (θ_i − θ_{i−1}, NaN at step 0); ``state`` (optimizer internals); for
    dataset losses ``epoch`` (passes over the data so far) and ``batch_loss`` (the mini-batch
    loss of the step reaching the point, at the point before it; NaN at step 0)."""

    step: NDArray[np.int64]
    params: Array
    loss: Array
    grad_norm: Array
    grad: Array | None = None
    update: Array | None = None
    state: dict[str, Array] | None = None
    epoch: Array | None = None
    batch_loss: Array | None = None

    def to_json(self, schedule: Schedule | None = None) -> dict[str, Any]:
        """The API's trajectory object; with ``schedule``, the ``lr`` of the step reaching each
        point (null for step 0, which no step reached). NaN is written as null."""
        body: dict[str, Any] = {
            "step": self.step,
            "params": self.params,
            "loss": self.loss,
            "grad_norm": self.grad_norm,
        }
        if self.grad is not None:
            body["grad"] = self.grad
        if schedule is not None:
            body["lr"] = [None if s == 0 else schedule(int(s) - 1) for s in self.step]
        if self.update is not None:
            body["update"] = self.update
        if self.state is not None:
            body["state"] = self.state
        if self.epoch is not None:
            body["epoch"] = self.epoch
        if self.batch_loss is not None:
            body["batch_loss"] = self.batch_loss
        return body

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Columns:
        """Inverse of ``to_json`` (``lr`` is derived, so it is not read; null reads as NaN)."""
        n = len(body["params"][0]) if body["params"] else 0

        def matrix(name: str, source: dict[str, Any] = body) -> Array | None:
            rows = source.get(name)
            if rows is None:
                return None
            return np.asarray(rows, dtype=np.float64).reshape(len(rows), -1 if rows else n)

        state = body.get("state")
        epoch, batch_loss = body.get("epoch"), body.get("batch_loss")
        return cls(
            np.asarray(body["step"], dtype=np.int64),
            np.asarray(body["params"], dtype=np.float64).reshape(-1, n),
            np.asarray(body["loss"], dtype=np.float64),
            np.asarray(body["grad_norm"], dtype=np.float64),
            matrix("grad"),
            matrix("update"),
            None
            if state is None
            else {k: np.asarray(v, dtype=np.float64) for k, v in state.items()},
            None if epoch is None else np.asarray(epoch, dtype=np.float64),
            None if batch_loss is None else np.asarray(batch_loss, dtype=np.float64),
        )

    def __len__(self) -> int:
        return int(self.step.size)

    def select(self, mask: NDArray[np.bool_] | NDArray[np.intp]) -> Columns:
        """The points where ``mask`` holds (or at the indices it lists)."""
        return Columns(
            self.step[mask],
            self.params[mask],
            self.loss[mask],
            self.grad_norm[mask],
            None if self.grad is None else self.grad[mask],
            None if self.update is None else self.update[mask],
            None if self.state is None else {k: v[mask] for k, v in self.state.items()},
            None if self.epoch is None else self.epoch[mask],
            None if self.batch_loss is None else self.batch_loss[mask],
        )


def row_columns(
    result: RunResult, row: int, with_grad: bool, internals: Internals | None = None
) -> Columns:
    """Start ``row``'s recorded points, ending with its final point even if thinning skipped it.

    ``internals`` (given when the optimizer state was recorded) names the state's arrays."""
    recording = result.trajectory
    last = int(result.nit[row])
    kept = recording.step <= last
    columns = Columns(
        recording.step[kept],
        recording.params[kept, row],
        recording.loss[kept, row],
        recording.grad_norm[kept, row],
        recording.grad[kept, row] if with_grad and recording.grad is not None else None,
        None if internals is None or recording.update is None else recording.update[kept, row],
        None
        if internals is None
        else {k: v[kept, row] for k, v in internals(recording.state).items()},
    )
    if columns.step.size and columns.step[-1] == last:
        return columns
    final = result.row(row)
    update = result.update_of(row)
    tail = Columns(
        np.array([last], dtype=np.int64),
        final.params,
        final.loss,
        grad_norm(final.grad),
        final.grad if with_grad else None,
        None
        if internals is None
        else (np.full_like(final.params, np.nan) if update is None else update),
        None if internals is None else internals(final.opt_state),
    )
    return concatenate([columns, tail])


def with_batches(
    columns: Columns,
    recorded: NDArray[np.int64],
    batch_loss: Array,
    last_batch_loss: float,
    batches: Minibatches,
) -> Columns:
    """``columns`` of a mini-batch run with its ``epoch`` and ``batch_loss`` columns, given
    the run's recorded steps and their batch losses and the batch loss of its last step."""
    losses = np.full(len(columns), np.nan)
    if recorded.size:
        slot = np.minimum(np.searchsorted(recorded, columns.step), recorded.size - 1)
        found = recorded[slot] == columns.step
        losses[found] = batch_loss[slot[found]]
    if losses.size:
        losses[-1] = last_batch_loss
    epoch = batches.epochs(columns.step)
    return Columns(*columns[:7], epoch, losses)


def concatenate(parts: Sequence[Columns]) -> Columns:
    """One column set from consecutive pieces (optional columns kept when every piece has them)."""
    if len(parts) == 1:
        return parts[0]

    def joined(pieces: Sequence[Array | None]) -> Array | None:
        present = [p for p in pieces if p is not None]
        return np.concatenate(present) if len(present) == len(pieces) else None

    states = [p.state for p in parts]
    state = None
    if all(s is not None for s in states):
        names = states[0].keys() if states[0] is not None else ()
        state = {k: np.concatenate([s[k] for s in states if s is not None]) for k in names}
    return Columns(
        np.concatenate([p.step for p in parts]),
        np.concatenate([p.params for p in parts]),
        np.concatenate([p.loss for p in parts]),
        np.concatenate([p.grad_norm for p in parts]),
        joined([p.grad for p in parts]),
        joined([p.update for p in parts]),
        state,
        joined([p.epoch for p in parts]),
        joined([p.batch_loss for p in parts]),
    )


def thin(columns: Columns, start: int, end: int | None, every: int) -> Columns:
    """Points with start ≤ step ≤ end whose step is a multiple of ``every``; the last point of
    the range is kept too, so a thinned trajectory still ends where the run ended."""
    step = columns.step
    in_range = (step >= start) if end is None else (step >= start) & (step <= end)
    mask = in_range & (step % every == 0)
    if in_range.any():
        mask[np.flatnonzero(in_range)[-1]] = True
    return columns.select(mask)
