"""A typed Python client of the Descent optimization service (sync and async, over httpx).

>>> from descent_client import Descent
>>> with Descent("http://127.0.0.1:8000") as descent:  # doctest: +SKIP
...     run = descent.run("x^2 + 3*y^2", "adam", [1, 1], lr=0.1, stop={"max_steps": 500})
...     print(run.status, run.steps, run.final.params, run.analysis.classification)
...     session = descent.session("x^2 + 3*y^2", "sgd", [1, 1], lr=0.1, momentum=0.9)
...     session.step(10)
...     for event in session.events(after=0):  # Points..., then End
...         print(event)

Problem answers raise :class:`DescentError` subclasses (:class:`NotFound`,
:class:`ValidationFailed`, …) carrying the RFC 9457 fields; no answer raises
:class:`DescentConnectionError`. Only httpx and the standard library are imported.
"""

from descent_client._async import AsyncDescent, AsyncSession
from descent_client._base import UNSET, __version__
from descent_client._client import Descent, Session
from descent_client._errors import (
    BadRequest,
    Conflict,
    DescentConnectionError,
    DescentError,
    DescentException,
    FieldError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    ServerError,
    ServiceUnavailable,
    TooManySessions,
    Unauthorized,
    ValidationFailed,
)
from descent_client._models import (
    Analysis,
    BatchResult,
    BatchRun,
    DatasetInfo,
    End,
    Event,
    Example,
    FinalPoint,
    LossInfo,
    ModelState,
    MomentumSettings,
    OptimizerInfo,
    Points,
    RunResult,
    SessionRunResult,
    SessionState,
    SessionTrajectory,
    Standardization,
    StepResult,
    Tolerances,
    Trajectory,
)
from descent_client._specs import (
    LossLike,
    OptimizerLike,
    ScheduleLike,
    builtin,
    dataset,
    expression,
    generate,
    optimizer,
    quadratic,
    schedule,
)

__all__ = [
    "UNSET",
    "Analysis",
    "AsyncDescent",
    "AsyncSession",
    "BadRequest",
    "BatchResult",
    "BatchRun",
    "Conflict",
    "DatasetInfo",
    "Descent",
    "DescentConnectionError",
    "DescentError",
    "DescentException",
    "End",
    "Event",
    "Example",
    "FieldError",
    "FinalPoint",
    "LossInfo",
    "LossLike",
    "MethodNotAllowed",
    "ModelState",
    "MomentumSettings",
    "NotFound",
    "OptimizerInfo",
    "OptimizerLike",
    "PayloadTooLarge",
    "Points",
    "PreconditionFailed",
    "RunResult",
    "ScheduleLike",
    "ServerError",
    "ServiceUnavailable",
    "Session",
    "SessionRunResult",
    "SessionState",
    "SessionTrajectory",
    "Standardization",
    "StepResult",
    "Tolerances",
    "TooManySessions",
    "Trajectory",
    "Unauthorized",
    "ValidationFailed",
    "__version__",
    "builtin",
    "dataset",
    "expression",
    "generate",
    "optimizer",
    "quadratic",
    "schedule",
]
