"""HTTP request and response models. Request specs come from ``service.specs``; the response
models document what the handlers write (with orjson, straight from NumPy arrays)."""

from __future__ import annotations

from typing import Annotated, Literal

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


class FinalPoint(BaseModel):
    """Where a run ended."""

    params: list[float]
    loss: float
    grad: list[float]
    grad_norm: float


class RunOut(BaseModel):
    """A finished run."""

    status: RunStatus
    message: str
    steps: int
    variables: list[str]
    trajectory: TrajectoryOut
    final: FinalPoint
    analysis: AnalysisOut | None = Field(
        description="The analysis at the final point; null where its Hessian is not finite."
    )


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


class StepOut(SessionOut):
    """A session after a step request, with the points that request added."""

    trajectory: TrajectoryOut


class SessionTrajectoryOut(BaseModel):
    """A slice of a session's stored trajectory."""

    id: str
    version: int
    step: int
    trajectory: TrajectoryOut
