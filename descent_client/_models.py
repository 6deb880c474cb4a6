"""The service's answers as small frozen dataclasses, with the API's field names.

Every result keeps the whole JSON answer in ``raw`` (hidden from ``repr`` and comparisons), so
fields this client does not name yet stay reachable."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "Analysis",
    "BatchResult",
    "BatchRun",
    "DatasetInfo",
    "End",
    "Event",
    "Example",
    "FinalPoint",
    "LossInfo",
    "ModelState",
    "MomentumSettings",
    "OptimizerInfo",
    "Points",
    "RunResult",
    "SessionRunResult",
    "SessionState",
    "SessionTrajectory",
    "Standardization",
    "StepResult",
    "Tolerances",
    "Trajectory",
]

JSON = dict[str, Any]
RunStatus = Literal["converged", "max_steps", "diverged", "time_limit"]
SessionStatus = Literal["ready", "converged", "max_steps", "diverged", "time_limit"]
Classification = Literal[
    "local_minimum", "local_maximum", "saddle_point", "degenerate", "not_critical"
]
HessianMethod = Literal["exact", "central_differences"]


def _floats(values: Any) -> list[float]:
    return [float(v) for v in values]


def _matrix(rows: Any) -> list[list[float]]:
    return [[float(v) for v in row] for row in rows]


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _optional_floats(values: Any) -> list[float | None] | None:
    return None if values is None else [_optional_float(v) for v in values]


@dataclass(frozen=True, kw_only=True)
class Trajectory:
    """Columnar points: entry i of every column describes point i (step 0 is the start).

    ``grad``, ``lr``, ``update`` and ``state`` are present only when ``record`` asked for them;
    ``epoch`` and ``batch_loss`` only for dataset losses (where ``loss`` is the full-data
    objective and ``batch_loss`` the mini-batch loss of the step reaching each point, None at
    step 0)."""

    step: list[int]
    params: list[list[float]]
    loss: list[float]
    grad_norm: list[float]
    grad: list[list[float]] | None = None
    lr: list[float | None] | None = None
    update: list[list[float | None]] | None = None
    state: dict[str, list[list[float | None]]] | None = None
    epoch: list[float] | None = None
    """Passes over the data so far (examples seen / examples)."""
    batch_loss: list[float | None] | None = None
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSON) -> Trajectory:
        grad = data.get("grad")
        epoch = data.get("epoch")
        return cls(
            step=[int(s) for s in data["step"]],
            params=_matrix(data["params"]),
            loss=_floats(data["loss"]),
            grad_norm=_floats(data["grad_norm"]),
            grad=None if grad is None else _matrix(grad),
            lr=data.get("lr"),
            update=data.get("update"),
            state=data.get("state"),
            epoch=None if epoch is None else _floats(epoch),
            batch_loss=_optional_floats(data.get("batch_loss")),
            raw=data,
        )

    def __len__(self) -> int:
        return len(self.step)


@dataclass(frozen=True, kw_only=True)
class FinalPoint:
    """Where a run ended: θ, f(θ), ∇f(θ) and ‖∇f(θ)‖."""

    params: list[float]
    loss: float
    grad: list[float]
    grad_norm: float
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSON) -> FinalPoint:
        return cls(
            params=_floats(data["params"]),
            loss=float(data["loss"]),
            grad=_floats(data["grad"]),
            grad_norm=float(data["grad_norm"]),
            raw=data,
        )


@dataclass(frozen=True, kw_only=True)
class MomentumSettings:
    """Goh's optimal step size and heavy-ball momentum for the local quadratic model."""

    lr: float
    momentum: float


@dataclass(frozen=True, kw_only=True)
class Tolerances:
    """The absolute thresholds an analysis used for "zero gradient" and "zero eigenvalue"."""

    gradient: float
    eigenvalue: float


@dataclass(frozen=True, kw_only=True)
class Analysis:
    """The ``/v1/analyze`` answer: value, derivatives, Hessian spectrum and classification."""

    variables: list[str]
    point: list[float]
    value: float
    gradient: list[float]
    gradient_norm: float
    hessian: list[list[float]]
    hessian_method: HessianMethod
    """``exact``, or ``central_differences`` of the exact gradient (mlp models)."""
    eigenvalues: list[float]
    """Ascending."""
    eigenvectors: list[list[float]]
    """Column j belongs to eigenvalue j."""
    curvature: str
    classification: Classification
    escape_direction: list[float] | None
    condition_number: float | None
    stability_bound: float | None
    optimal_momentum: MomentumSettings | None
    tolerances: Tolerances
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSON) -> Analysis:
        momentum = data.get("optimal_momentum")
        tolerances = data.get("tolerances") or {}
        escape = data.get("escape_direction")
        return cls(
            variables=list(data["variables"]),
            point=_floats(data["point"]),
            value=float(data["value"]),
            gradient=_floats(data["gradient"]),
            gradient_norm=float(data["gradient_norm"]),
            hessian=_matrix(data["hessian"]),
            hessian_method=data.get("hessian_method", "exact"),
            eigenvalues=_floats(data["eigenvalues"]),
            eigenvectors=_matrix(data["eigenvectors"]),
            curvature=str(data["curvature"]),
            classification=data["classification"],
            escape_direction=None if escape is None else _floats(escape),
            condition_number=_optional_float(data.get("condition_number")),
            stability_bound=_optional_float(data.get("stability_bound")),
            optimal_momentum=None
            if momentum is None
            else MomentumSettings(lr=float(momentum["lr"]), momentum=float(momentum["momentum"])),
            tolerances=Tolerances(
                gradient=float(tolerances.get("gradient", 0.0)),
                eigenvalue=float(tolerances.get("eigenvalue", 0.0)),
            ),
            raw=data,
        )


@dataclass(frozen=True, kw_only=True)
class Standardization:
    """The per-feature shift and scale applied to X: x' = (x − mean) / scale."""

    mean: list[float]
    scale: list[float]


@dataclass(frozen=True, kw_only=True)
class ModelState:
    """Batch normalisation's running statistics, one list per normalised layer (what the model
    uses to predict on new data)."""

    running_mean: list[list[float]]
    running_var: list[list[float]]


@dataclass(frozen=True, kw_only=True)
class DatasetInfo:
    """The data and model of a dataset loss at the answer's point."""

    examples: int
    features: int
    classes: int | None
    """Classes of a classifier; None for regression."""
    batch_size: int
    steps_per_epoch: int
    """⌈examples / batch_size⌉."""
    epoch: float
    """Passes over the data so far."""
    standardization: Standardization | None
    """With ``standardize``: the features' means and scales (θ acts on the scaled features)."""
    hessian_method: HessianMethod
    model_state: ModelState | None
    """With ``batch_norm``: the running statistics."""
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSON) -> DatasetInfo:
        scaling = data.get("standardization")
        state = data.get("model_state")
        classes = data.get("classes")
        return cls(
            examples=int(data["examples"]),
            features=int(data["features"]),
            classes=None if classes is None else int(classes),
            batch_size=int(data["batch_size"]),
            steps_per_epoch=int(data["steps_per_epoch"]),
            epoch=float(data["epoch"]),
            standardization=None
            if scaling is None
            else Standardization(mean=_floats(scaling["mean"]), scale=_floats(scaling["scale"])),
            hessian_method=data["hessian_method"],
            model_state=None
            if state is None
            else ModelState(
                running_mean=_matrix(state["running_mean"]),
                running_var=_matrix(state["running_var"]),
            ),
            raw=data,
        )


def _dataset_fields(data: JSON) -> JSON:
    """``parameter_names`` and ``dataset`` of a run or session answer (None for formulas)."""
    names = data.get("parameter_names")
    dataset = data.get("dataset")
    return {
        "parameter_names": None if names is None else [str(n) for n in names],
        "dataset": None if dataset is None else DatasetInfo.from_json(dataset),
    }


@dataclass(frozen=True, kw_only=True)
class RunResult:
    """A finished run (``POST /v1/runs``): why it stopped, its trajectory, where it ended and
    the analysis there (None where the Hessian is not finite, or with ``analysis=False``).
    Dataset losses add ``parameter_names`` (the layout of θ) and ``dataset``."""

    status: RunStatus
    message: str
    steps: int
    variables: list[str]
    trajectory: Trajectory
    final: FinalPoint
    analysis: Analysis | None
    parameter_names: list[str] | None = None
    dataset: DatasetInfo | None = None
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def _fields(cls, data: JSON) -> JSON:
        analysis = data.get("analysis")
        return {
            "status": data["status"],
            "message": str(data["message"]),
            "steps": int(data["steps"]),
            "variables": list(data["variables"]),
            "trajectory": Trajectory.from_json(data["trajectory"]),
            "final": FinalPoint.from_json(data["final"]),
            "analysis": None if analysis is None else Analysis.from_json(analysis),
            **_dataset_fields(data),
            "raw": data,
        }

    @classmethod
    def from_json(cls, data: JSON) -> RunResult:
        return cls(**cls._fields(data))


@dataclass(frozen=True, kw_only=True)
class BatchRun(RunResult):
    """One (optimizer, start) run of a batch."""

    optimizer_index: int
    start_index: int

    @classmethod
    def from_json(cls, data: JSON) -> BatchRun:
        return cls(
            **cls._fields(data),
            optimizer_index=int(data["optimizer_index"]),
            start_index=int(data["start_index"]),
        )


@dataclass(frozen=True, kw_only=True)
class BatchResult:
    """Every run of a batch, optimizer-major: ``runs[i * len(starts) + j]`` is optimizer i
    from start j."""

    runs: list[BatchRun]
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSON) -> BatchResult:
        return cls(runs=[BatchRun.from_json(run) for run in data["runs"]], raw=data)

    def __len__(self) -> int:
        return len(self.runs)

    def run(self, optimizer_index: int, start_index: int) -> BatchRun:
        """The run of one optimizer from one start."""
        for run in self.runs:
            if run.optimizer_index == optimizer_index and run.start_index == start_index:
                return run
        raise KeyError((optimizer_index, start_index))


@dataclass(frozen=True, kw_only=True)
class SessionState:
    """A session's configuration (``config``, the run body with defaults filled in) and its
    current state; ``version`` counts writes and is the answer's ETag. Dataset losses add
    ``parameter_names`` and ``dataset`` (at the current step)."""

    id: str
    version: int
    created_at: str
    updated_at: str
    step: int
    status: SessionStatus
    message: str
    variables: list[str]
    params: list[float]
    loss: float
    grad: list[float]
    grad_norm: float
    config: JSON
    parameter_names: list[str] | None = None
    dataset: DatasetInfo | None = None
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def _fields(cls, data: JSON) -> JSON:
        return {
            "id": str(data["id"]),
            "version": int(data["version"]),
            "created_at": str(data["created_at"]),
            "updated_at": str(data["updated_at"]),
            "step": int(data["step"]),
            "status": data["status"],
            "message": str(data["message"]),
            "variables": list(data["variables"]),
            "params": _floats(data["params"]),
            "loss": float(data["loss"]),
            "grad": _floats(data["grad"]),
            "grad_norm": float(data["grad_norm"]),
            "config": data["config"],
            **_dataset_fields(data),
            "raw": data,
        }

    @classmethod
    def from_json(cls, data: JSON) -> SessionState:
        return cls(**cls._fields(data))


@dataclass(frozen=True, kw_only=True)
class StepResult(SessionState):
    """A session after a step request, with the points that request added in ``trajectory``."""

    trajectory: Trajectory

    @classmethod
    def from_json(cls, data: JSON) -> StepResult:
        return cls(**cls._fields(data), trajectory=Trajectory.from_json(data["trajectory"]))


@dataclass(frozen=True, kw_only=True)
class SessionRunResult(SessionState):
    """A session after a run request; ``steps_taken`` by that request."""

    steps_taken: int

    @classmethod
    def from_json(cls, data: JSON) -> SessionRunResult:
        return cls(**cls._fields(data), steps_taken=int(data["steps_taken"]))


@dataclass(frozen=True, kw_only=True)
class SessionTrajectory:
    """A slice of a session's stored trajectory, and the session's version and step."""

    id: str
    version: int
    step: int
    trajectory: Trajectory
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSON) -> SessionTrajectory:
        return cls(
            id=str(data["id"]),
            version=int(data["version"]),
            step=int(data["step"]),
            trajectory=Trajectory.from_json(data["trajectory"]),
            raw=data,
        )


@dataclass(frozen=True, kw_only=True)
class Points:
    """A ``points`` event: the points a session stored since the last event (columnar)."""

    step: list[int]
    params: list[list[float]]
    loss: list[float]
    grad_norm: list[float]
    epoch: list[float] | None = None
    """Dataset losses: passes over the data so far."""
    batch_loss: list[float | None] | None = None
    """Dataset losses: the mini-batch loss of the step reaching each point."""
    id: str | None = None
    """The event id (the last step), sent back as ``Last-Event-ID`` on reconnection."""
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSON, event_id: str | None = None) -> Points:
        epoch = data.get("epoch")
        return cls(
            step=[int(s) for s in data["step"]],
            params=_matrix(data["params"]),
            loss=_floats(data["loss"]),
            grad_norm=_floats(data["grad_norm"]),
            epoch=None if epoch is None else _floats(epoch),
            batch_loss=_optional_floats(data.get("batch_loss")),
            id=event_id,
            raw=data,
        )

    @property
    def steps(self) -> list[int]:
        """The step numbers of the points (the ``step`` column)."""
        return self.step

    @property
    def trajectory(self) -> Trajectory:
        """The points as a :class:`Trajectory`."""
        return Trajectory.from_json(self.raw)

    def __len__(self) -> int:
        return len(self.step)


@dataclass(frozen=True, kw_only=True)
class End:
    """The ``end`` event: the session stopped (``status`` is its status, with ``message`` and
    where it stopped) or was deleted (``status == "deleted"``, no message or point)."""

    status: str
    step: int
    message: str | None = None
    params: list[float] | None = None
    loss: float | None = None
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSON) -> End:
        params = data.get("params")
        return cls(
            status=str(data["status"]),
            step=int(data.get("step", 0)),
            message=data.get("message"),
            params=None if params is None else _floats(params),
            loss=_optional_float(data.get("loss")),
            raw=data,
        )


Event = Points | End


@dataclass(frozen=True, kw_only=True)
class LossInfo:
    """A builtin loss of the catalogue (``GET /v1/losses``) at its default dimension."""

    name: str
    title: str
    formula: str
    expression: str
    variables: list[str]
    dims: JSON
    params: JSON
    minima: list[JSON]
    domain: list[list[float]]
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSON) -> LossInfo:
        return cls(
            name=str(data["name"]),
            title=str(data["title"]),
            formula=str(data["formula"]),
            expression=str(data["expression"]),
            variables=list(data["variables"]),
            dims=data["dims"],
            params=data["params"],
            minima=list(data["minima"]),
            domain=_matrix(data["domain"]),
            raw=data,
        )


@dataclass(frozen=True, kw_only=True)
class OptimizerInfo:
    """An optimizer of the catalogue (``GET /v1/optimizers``): rule and hyperparameters."""

    name: str
    title: str
    rule: str
    torch: str | None
    hyperparameters: list[JSON]
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSON) -> OptimizerInfo:
        return cls(
            name=str(data["name"]),
            title=str(data["title"]),
            rule=str(data["rule"]),
            torch=data.get("torch"),
            hyperparameters=list(data["hyperparameters"]),
            raw=data,
        )

    @property
    def defaults(self) -> dict[str, Any]:
        """Each hyperparameter's default, by name."""
        return {h["name"]: h.get("default") for h in self.hyperparameters}


@dataclass(frozen=True, kw_only=True)
class Example:
    """A ready-made lesson (``GET /v1/examples``): the request to POST to ``endpoint`` (a list
    of bodies when it compares several) and what to look for in the answer."""

    id: str
    title: str
    explanation: str
    endpoint: str
    request: JSON | list[JSON]
    labels: list[str]
    claim: JSON
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSON) -> Example:
        return cls(
            id=str(data["id"]),
            title=str(data["title"]),
            explanation=str(data["explanation"]),
            endpoint=str(data["endpoint"]),
            request=data["request"],
            labels=list(data.get("labels", [])),
            claim=data.get("claim", {}),
            raw=data,
        )
