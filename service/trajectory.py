"""Columnar trajectories: cutting one start's points out of a run, joining and thinning them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from core.losses import Array
from core.run import RunResult, grad_norm
from core.schedules import Schedule


class Columns(NamedTuple):
    """Entry i of every column describes point i; ``grad`` is present when recorded."""

    step: NDArray[np.int64]
    params: Array
    loss: Array
    grad_norm: Array
    grad: Array | None

    def to_json(self, schedule: Schedule | None = None) -> dict[str, Any]:
        """The API's trajectory object; with ``schedule``, the ``lr`` of the step reaching each
        point (null for step 0, which no step reached)."""
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
        return body

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Columns:
        """Inverse of ``to_json`` (the ``lr`` column is derived, so it is not read)."""
        n = len(body["params"][0]) if body["params"] else 0
        grad = body.get("grad")
        return cls(
            np.asarray(body["step"], dtype=np.int64),
            np.asarray(body["params"], dtype=np.float64).reshape(-1, n),
            np.asarray(body["loss"], dtype=np.float64),
            np.asarray(body["grad_norm"], dtype=np.float64),
            None if grad is None else np.asarray(grad, dtype=np.float64).reshape(-1, n),
        )

    def __len__(self) -> int:
        return int(self.step.size)

    def select(self, mask: NDArray[np.bool_]) -> Columns:
        """The points where ``mask`` holds."""
        return Columns(
            self.step[mask],
            self.params[mask],
            self.loss[mask],
            self.grad_norm[mask],
            None if self.grad is None else self.grad[mask],
        )


def row_columns(result: RunResult, row: int, with_grad: bool) -> Columns:
    """Start ``row``'s recorded points, ending with its final point even if thinning skipped it."""
    recording = result.trajectory
    last = int(result.nit[row])
    kept = recording.step <= last
    steps = recording.step[kept]
    params = recording.params[kept, row]
    loss = recording.loss[kept, row]
    norm = recording.grad_norm[kept, row]
    grad = recording.grad[kept, row] if with_grad and recording.grad is not None else None
    final = result.final[row]
    if steps.size == 0 or steps[-1] != last:
        steps = np.append(steps, last)
        params = np.vstack([params, final.params])
        loss = np.append(loss, final.loss)
        norm = np.append(norm, grad_norm(final.grad))
        if with_grad:
            grad = final.grad if grad is None else np.vstack([grad, final.grad])
    return Columns(steps, params, loss, norm, grad if with_grad else None)


def concatenate(parts: Sequence[Columns]) -> Columns:
    """One column set from consecutive pieces."""
    if len(parts) == 1:
        return parts[0]
    grads = [p.grad for p in parts]
    return Columns(
        np.concatenate([p.step for p in parts]),
        np.concatenate([p.params for p in parts]),
        np.concatenate([p.loss for p in parts]),
        np.concatenate([p.grad_norm for p in parts]),
        None if any(g is None for g in grads) else np.concatenate(grads),  # type: ignore[arg-type]
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
