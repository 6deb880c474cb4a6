"""HTTP request and response models. Request specs come from ``service.specs``; the response
models document what the handlers write (with orjson, straight from NumPy arrays)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from core.analysis import DEFAULT_EIGENVALUE_RTOL, DEFAULT_GRADIENT_TOL
from service.specs import FiniteFloat, LossSpec, RunSpec, Spec

Classification = Literal[
    "local_minimum", "local_maximum", "saddle_point", "degenerate", "not_critical"
]
Curvature = Literal[
    "positive_definite",
    "negative_definite",
    "indefinite",
    "positive_semidefinite",
    "negative_semidefinite",
]
RunStatus = Literal["converged", "max_steps", "diverged", "time_limit"]
SessionStatus = Literal["ready", "converged", "max_steps", "diverged", "time_limit"]


class ProblemFieldError(BaseModel):
    """One reason a request was refused, located by its JSON path."""

    loc: list[str | int] = Field(description='The field\'s JSON path, e.g. ["body", "start", 0].')
    msg: str


class Problem(BaseModel):
    """An RFC 9457 problem document (``application/problem+json``): every error answer."""

    type: str = Field(description="A URI reference naming the kind of problem.")
    title: str
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong with this request, in one sentence.")
    errors: list[ProblemFieldError] | None = Field(
        None, description="For validation failures: every field refused, and why."
    )


class AnalyzeRequest(Spec):
    """A loss and the point at which to analyse it."""

    loss: LossSpec
    point: list[FiniteFloat] = Field(min_length=1, description="θ, one number per variable.")
    gradient_tol: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] = Field(
        DEFAULT_GRADIENT_TOL,
        description="θ is critical when ‖∇f‖ ≤ gradient_tol·max(1, ‖H‖₂).",
    )
    eigenvalue_rtol: Annotated[float, Field(ge=0.0, lt=1.0, allow_inf_nan=False)] = Field(
        DEFAULT_EIGENVALUE_RTOL,
        description="An eigenvalue counts as zero when |λ| ≤ eigenvalue_rtol·max|λᵢ|.",
    )


class StepRequest(Spec):
    """How many steps to take."""

    steps: Annotated[int, Field(ge=1)] = 1


class RunSessionRequest(Spec):
    """How far one run request may go, and how often it commits."""

    max_steps: Annotated[int, Field(ge=1)] = Field(
        10_000, description="Most steps this request takes (the stopping rule may end it sooner)."
    )
    chunk: Annotated[int, Field(ge=1, le=10_000)] = Field(
        50, description="Steps per commit; watchers of /events get points this often."
    )


class Health(BaseModel):
    """Liveness."""

    status: Literal["ok"]


class Readiness(BaseModel):
    """Readiness: the session store answers."""

    status: Literal["ready"]
    store: str


class MomentumSettings(BaseModel):
    """Goh's optimal step size and momentum for the local quadratic model."""

    lr: float
    momentum: float


class Tolerances(BaseModel):
    """The absolute thresholds the classification used."""

    gradient: float
    eigenvalue: float


class AnalysisOut(BaseModel):
    """Value, derivatives, Hessian spectrum and critical-point class at a point."""

    variables: list[str]
    point: list[float]
    value: float
    gradient: list[float]
    gradient_norm: float
    hessian: list[list[float]]
    hessian_method: Literal["exact", "central_differences"] = Field(
        description="exact, or central differences of the exact gradient (mlp models)."
    )
    eigenvalues: list[float] = Field(description="Ascending.")
    eigenvectors: list[list[float]] = Field(description="Column j belongs to eigenvalue j.")
    curvature: Curvature
    classification: Classification
    escape_direction: list[float] | None = Field(
        description="For saddles: the unit eigenvector of the most negative eigenvalue."
    )
    condition_number: float | None = Field(description="max|λ| / min|λ|; null if singular.")
    stability_bound: float | None = Field(
        description="2/λmax: gradient descent on the local quadratic is stable below it."
    )
    optimal_momentum: MomentumSettings | None = Field(
        description="Optimal (lr, momentum) for heavy-ball momentum when H is positive definite."
    )
    tolerances: Tolerances


class TrajectoryOut(BaseModel):
    """Columnar trajectory: entry i of every column describes point i."""

    step: list[int]
    params: list[list[float]]
    loss: list[float]
    grad_norm: list[float]
    grad: list[list[float]] | None = Field(None, description="With record.grad.")
    lr: list[float | None] | None = Field(
        None, description="With record.lr: the rate of the step reaching each point."
    )
    update: list[list[float | None]] | None = Field(
        None, description="With record.state: θ_i − θ_{i−1}, the step that reached point i."
    )
    state: dict[str, list[list[float | None]]] | None = Field(
        None,
        description="With record.state: the optimizer's internals at each point, by torch's "
        "state names (momentum_buffer, velocity, exp_avg, exp_avg_sq, max_exp_avg_sq, exp_inf, "
        "sum, square_avg, grad_avg).",
    )
    epoch: list[float] | None = Field(
        None, description="Dataset losses: passes over the data so far (examples seen / m)."
    )
    batch_loss: list[float | None] | None = Field(
        None,
        description="Dataset losses: the mini-batch loss the step reaching each point computed "
        "its gradient from (at the point before; null at step 0). `loss` is the full-data "
        "objective.",
    )


class FinalPoint(BaseModel):
    """Where a run ended."""

    params: list[float]
    loss: float
    grad: list[float]
    grad_norm: float


class Standardization(BaseModel):
    """The per-feature shift and scale applied to X: x' = (x − mean) / scale."""

    mean: list[float]
    scale: list[float]


class ModelState(BaseModel):
    """Batch normalisation's running statistics, one list per normalised layer: what the
    model uses to predict on new data (evaluation mode)."""

    running_mean: list[list[float]]
    running_var: list[list[float]]


class DatasetOut(BaseModel):
    """The data and model of a dataset loss at the answer's point."""

    examples: int
    features: int
    classes: int | None = Field(description="Classes of a classifier; null for regression.")
    batch_size: int
    steps_per_epoch: int = Field(description="⌈examples / batch_size⌉.")
    epoch: float = Field(description="Passes over the data so far.")
    standardization: Standardization | None = Field(
        description="With standardize: the features' means and scales (the parameters act on "
        "the scaled features)."
    )
    hessian_method: Literal["exact", "central_differences"]
    model_state: ModelState | None = Field(description="With batch_norm: running statistics.")


class RunOut(BaseModel):
    """A finished run."""

    status: RunStatus
    message: str
    steps: int
    variables: list[str]
    trajectory: TrajectoryOut
    final: FinalPoint
    analysis: AnalysisOut | None = Field(
        description="The analysis at the final point; null where its Hessian is not finite or "
        "the model has more parameters than DESCENT_MAX_HESSIAN_PARAMS."
    )
    parameter_names: list[str] | None = Field(
        None, description="Dataset losses: what each coordinate of θ is (the layout)."
    )
    dataset: DatasetOut | None = Field(None, description="Dataset losses: data and model.")


class BatchRunOut(RunOut):
    """One (optimizer, start) run of a batch."""

    optimizer_index: int = Field(description="Position of the optimizer in `optimizers`.")
    start_index: int = Field(description="Position of the start in `starts`.")


class BatchOut(BaseModel):
    """Every (optimizer, start) run, optimizer-major."""

    runs: list[BatchRunOut]


class SessionOut(BaseModel):
    """A session's configuration and current state."""

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
    config: RunSpec
    parameter_names: list[str] | None = Field(
        None, description="Dataset losses: what each coordinate of θ is (the layout)."
    )
    dataset: DatasetOut | None = Field(None, description="Dataset losses: data and model.")


class RunSessionOut(SessionOut):
    """A session after a run request."""

    steps_taken: int


class SessionList(BaseModel):
    """A page of sessions; pass ``next_cursor`` as ``cursor`` for the next (null: last page)."""

    sessions: list[SessionOut]
    next_cursor: str | None


class StepOut(SessionOut):
    """A session after a step request, with the points that request added."""

    trajectory: TrajectoryOut


class SessionTrajectoryOut(BaseModel):
    """A slice of a session's stored trajectory."""

    id: str
    version: int
    step: int
    trajectory: TrajectoryOut


class Dimensions(BaseModel):
    """Allowed dimensions (``max`` null when unbounded) and the default."""

    min: int
    max: int | None
    default: int


class LossParameter(BaseModel):
    """A builtin's parameter."""

    default: float
    description: str
    constraint: str


class KnownMinimum(BaseModel):
    """A known global minimum at the default dimension and parameters."""

    point: list[float]
    value: float


class BuiltinLoss(BaseModel):
    """A catalogue entry, at its default dimension and parameters."""

    name: str
    title: str
    formula: str
    expression: str = Field(description="The same function in the expression grammar.")
    variables: list[str]
    dims: Dimensions
    params: dict[str, LossParameter]
    minima: list[KnownMinimum]
    minima_note: str | None
    domain: list[list[float]] = Field(description="A plotting box, one [low, high] per variable.")


class LossCatalogue(BaseModel):
    """Every builtin loss."""

    losses: list[BuiltinLoss]


class Hyperparameter(BaseModel):
    """One optimizer argument, with its default and valid range."""

    name: str
    type: Literal["number", "boolean", "string"]
    default: float | bool | str
    minimum: float | None
    maximum: float | None
    exclusive_minimum: bool
    exclusive_maximum: bool
    range: str | None
    choices: list[str]
    meaning: str


class OptimizerForm(BaseModel):
    """One of the two textbook forms of an update rule."""

    name: str
    rule: str
    torch: str | None
    matches_torch: bool
    default: bool
    description: str


class OptimizerInternal(BaseModel):
    """A per-step state array reported with ``record.state``."""

    name: str
    meaning: str
    when: str | None


class OptimizerEntry(BaseModel):
    """An optimizer: its update rule, hyperparameters, forms and internals."""

    name: str
    title: str
    rule: str
    torch: str | None
    matches_torch: bool
    hyperparameters: list[Hyperparameter]
    forms: list[OptimizerForm]
    internals: list[OptimizerInternal]
    notes: str
    references: list[str]


class OptimizerCatalogue(BaseModel):
    """Every optimizer."""

    optimizers: list[OptimizerEntry]


class GradientFieldOut(BaseModel):
    """The gradient of the plotted slice on a coarser grid, rows along y (a quiver plot)."""

    x: list[float] = Field(description="mx plane coordinates along directions[0].")
    y: list[float] = Field(description="my plane coordinates along directions[1].")
    gx: list[list[float | None]] = Field(
        description="gx[i][j] = ∇f·directions[0] at (x[j], y[i]): ∂f/∂x for the plain x–y "
        "plane. Null where the gradient is not finite."
    )
    gy: list[list[float | None]] = Field(
        description="gy[i][j] = ∇f·directions[1] at (x[j], y[i]). Null where not finite."
    )


class LandscapeOut(BaseModel):
    """A loss on a grid of a plane: f at center + x·directions[0] + y·directions[1]."""

    variables: list[str]
    x: list[float] = Field(description="nx plane coordinates along directions[0].")
    y: list[float] = Field(description="ny plane coordinates along directions[1].")
    z: list[list[float | None]] = Field(
        description="z[i][j] = f(x[j], y[i]): rows follow y, as contour plots expect. Entries "
        "where f is not finite (the log of a negative number, an overflow) are null."
    )
    z_min: float | None = Field(description="The smallest finite z; null if none is finite.")
    z_max: float | None = Field(description="The largest finite z; null if none is finite.")
    center: list[float] = Field(description="The plane's origin (x = y = 0).")
    directions: list[list[float]] = Field(
        description="The two orthonormal directions used, as rows (the unit axes e₁, e₂ for "
        "the plain x–y plane)."
    )
    directions_source: Literal["axes", "given", "random", "hessian"] = Field(
        description="Where the directions came from."
    )
    direction_eigenvalues: list[float] | None = Field(
        description='For {"type": "hessian"}: the Hessian eigenvalue of each direction '
        "(largest |λ| first); null otherwise."
    )
    gradient: GradientFieldOut | None = Field(description="With `gradient` in the request.")


class CriticalPointOut(AnalysisOut):
    """A critical point: its /v1/analyze answer, and how many starts converged to it."""

    starts: int = Field(description="How many Newton starts converged to this point.")


class CriticalPointCounts(BaseModel):
    """How many of the listed points fall in each class."""

    local_minimum: int
    local_maximum: int
    saddle_point: int
    degenerate: int


class CriticalPointsOut(BaseModel):
    """Every critical point found in the box, sorted by classification (minima, maxima,
    saddles, degenerate), then value, then coordinates."""

    variables: list[str]
    status: Literal["complete", "time_limit"] = Field(
        description="time_limit: the server's per-request time limit stopped Newton's "
        "iterations early, and points may be missing."
    )
    message: str
    count: int = Field(description="Distinct critical points found.")
    truncated: bool = Field(description="True when more points were found than are listed.")
    counts: CriticalPointCounts
    starts: int = Field(description="Newton starts used.")
    resolution: list[int] | None = Field(description="Grid cells per variable, if a grid.")
    random_starts: int = Field(description="Starts drawn uniformly from the box.")
    converged: int = Field(description="Starts that converged to a critical point in the box.")
    iterations: int = Field(description="Newton iterations done.")
    points: list[CriticalPointOut]


class ExampleClaim(BaseModel):
    """What a lesson's answer shows: one sentence, and the numbers a check compares."""

    statement: str
    expect: dict[str, Any] = Field(
        description="The lesson's expected statuses, classifications and thresholds, by name."
    )


class ExampleOut(BaseModel):
    """A ready-made lesson: a request to send, and what to look for in the answer."""

    id: str = Field(description="Stable kebab-case id.")
    title: str
    seeds: list[str] = Field(description="The lecture notes the lesson comes from.")
    explanation: str = Field(description="What to look at in the answer, and why it happens.")
    endpoint: Literal["/v1/runs", "/v1/runs/batch", "/v1/analyze"] = Field(
        description="Where to POST `request` (each body of it, when it is a list)."
    )
    request: dict[str, Any] | list[dict[str, Any]] = Field(
        description="A complete request body, or a list of bodies when the lesson compares several."
    )
    labels: list[str] = Field(
        description="Names of the answer's runs (a batch's, optimizer-major) or of the "
        "requests, in order."
    )
    claim: ExampleClaim


class ExampleCatalogue(BaseModel):
    """Every ready-made lesson."""

    examples: list[ExampleOut]
