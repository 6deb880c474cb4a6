"""What a client asks to compute: the loss, optimizer, schedule, stopping rule and recording.

These models are the domain's request vocabulary (the names are fixed by API.md). They are
validated once at the edge, stored as JSON with a session, and turned into core objects by
``service.build``. Limits that depend on settings are checked by the use cases.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from core.catalogue import meaning as _meaning

VARIABLE_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,15}$"
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Unit = Annotated[float, Field(ge=0.0, lt=1.0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]


MAX_INTEGER = 2**53 - 1
"""The largest integer a request may hold (I-JSON, RFC 7493): larger ones do not survive JSON
parsers that read numbers as doubles, nor 64-bit storage."""


def _oversized(value: Any, loc: tuple[str | int, ...]) -> tuple[str | int, ...] | None:
    """Where ``value`` is, or (in lists) holds, an integer beyond ±MAX_INTEGER; objects are
    checked by their own models. Fast for long lists of numbers (a quadratic's A, a batch's
    starts): the location is only looked for once there is one."""
    if type(value) is int:
        return loc if not -MAX_INTEGER <= value <= MAX_INTEGER else None
    if type(value) is not list:
        return None
    pending: list[list[Any]] = [value]
    while pending:
        for item in pending.pop():
            if type(item) is list:
                pending.append(item)
            elif type(item) is int and not -MAX_INTEGER <= item <= MAX_INTEGER:
                found = (_oversized(entry, (*loc, i)) for i, entry in enumerate(value))
                return next(where for where in found if where is not None)
    return None


class Spec(BaseModel):
    """Base of every request model: unknown fields, NaN/Infinity and integers beyond
    ±MAX_INTEGER are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _integers_fit(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for key, value in data.items():
            loc = _oversized(value, (key,))
            if loc is not None:
                error = PydanticCustomError(
                    "int_too_large",
                    "integers must lie within ±{limit} (2⁵³ − 1); write larger numbers as "
                    "floats, e.g. 1e30",
                    {"limit": MAX_INTEGER},
                )
                raise ValidationError.from_exception_data(
                    cls.__name__, [InitErrorDetails(type=error, loc=loc, input=value)]
                )
        return data


class ExpressionLossSpec(Spec):
    """A formula in named variables, differentiated symbolically."""

    type: Literal["expression"]
    expression: str = Field(
        min_length=1,
        max_length=100_000,
        description="Formula in +, -, *, /, ** (or ^), unary minus, parentheses, numbers, the "
        "constants pi and e and the functions sin cos tan arcsin arccos arctan sinh cosh tanh "
        "exp log log10 log2 sqrt abs.",
        examples=["x**2 - y**2 + 0.1*sin(x*y)"],
    )
    variables: list[Annotated[str, Field(pattern=VARIABLE_PATTERN)]] | None = Field(
        None,
        min_length=1,
        description="Order of the parameters; alphabetical order of the names used when omitted.",
    )


BuiltinName = Literal[
    "sphere", "rosenbrock", "beale", "himmelblau", "booth", "matyas", "three_hump_camel",
    "six_hump_camel", "goldstein_price", "rastrigin", "ackley", "styblinski_tang", "saddle",
    "monkey_saddle", "elongated_quadratic", "rotated_quadratic",
]  # fmt: skip


class BuiltinLossSpec(Spec):
    """A classic test function from the catalogue at ``GET /v1/losses``."""

    type: Literal["builtin"]
    name: BuiltinName
    dim: Annotated[int, Field(ge=1)] | None = Field(
        None, description="Dimension, for the n-dimensional functions; 2 when omitted."
    )
    params: dict[str, FiniteFloat] = Field(
        default_factory=dict, description="Parameters by name; omitted ones take their defaults."
    )


class QuadraticLossSpec(Spec):
    """f(θ) = ½ θᵀAθ + bᵀθ + c, with A symmetrised."""

    type: Literal["quadratic"]
    A: list[list[FiniteFloat]] = Field(min_length=1, description="n×n matrix (symmetrised).")
    b: list[FiniteFloat] | None = Field(None, description="Length n; zeros when omitted.")
    c: FiniteFloat = 0.0


class GenerateSpec(Spec):
    """A seeded synthetic dataset."""

    kind: Literal["linear", "blobs", "moons", "badly_scaled"] = Field(
        description="linear: y = Xw* + b* + noise; blobs: Gaussian clusters, one per class; "
        "moons: two interleaving half circles (2 features, 2 classes); badly_scaled: a linear "
        "regression whose 2 features have scales 1 and 100 (the feature-scaling lesson)."
    )
    n: Annotated[int, Field(ge=1)] = Field(200, description="Number of examples.")
    features: Annotated[int, Field(ge=1)] = Field(
        2, description="Features of linear and blobs (moons and badly_scaled have 2)."
    )
    classes: Annotated[int, Field(ge=2)] = Field(3, description="Classes of blobs.")
    noise: Annotated[NonNegative, Field(le=1e6)] | None = Field(
        None, description="Noise level (a standard deviation); each kind's default when omitted."
    )
    seed: Annotated[int, Field(ge=0)] = Field(0, description="Seed of the generator.")


class DatasetLossSpec(Spec):
    """A model on data; one optimizer step is one mini-batch update."""

    type: Literal["dataset"]
    model: Literal["linear_regression", "logistic_regression", "softmax_regression", "mlp"]
    loss: Literal["mse", "cross_entropy"] | None = Field(
        None,
        description="mse = mean((ŷ − y)²), on probabilities for classifiers; cross_entropy = "
        "mean negative log-likelihood. Default: mse for regression, cross_entropy for "
        "classification.",
    )
    X: list[list[FiniteFloat]] | None = Field(
        None, min_length=1, description="Features, one row per example (or use generate)."
    )
    y: list[FiniteFloat] | None = Field(
        None,
        min_length=1,
        description="Targets: real numbers for regression, class indices 0..k−1 for "
        "classification (0/1 for logistic regression).",
    )
    generate: GenerateSpec | None = Field(None, description="Synthetic data instead of X and y.")
    standardize: bool = Field(
        False,
        description="Scale each feature to zero mean and unit variance (from this data); the "
        "means and scales used are returned.",
    )
    l2: NonNegative = Field(0.0, description="Adds (l2/2)·Σw² over the weights (not biases).")
    batch_size: Annotated[int, Field(ge=1)] = Field(
        32, description="Examples per step: 1 is SGD, ≥ the dataset size is full batch."
    )
    shuffle: bool = Field(True, description="Draw a new example order every epoch.")
    seed: Annotated[int, Field(ge=0)] = Field(
        0, description="Seeds the shuffling and the mlp's initial weights."
    )
    classes: Annotated[int, Field(ge=2)] | None = Field(
        None, description="Number of classes (classification); the largest label + 1 if omitted."
    )
    task: Literal["regression", "classification"] | None = Field(
        None,
        description="mlp only: regression (one output, mse) or classification (softmax); "
        "classification when loss is cross_entropy, else regression, if omitted.",
    )
    hidden: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=lambda: [16],
        min_length=1,
        max_length=2,
        description="mlp only: the sizes of its one or two hidden layers.",
    )
    activation: Literal["tanh", "relu", "sigmoid"] = Field(
        "tanh", description="mlp only: the hidden layers' activation."
    )
    batch_norm: bool = Field(
        False,
        description="mlp only: batch normalisation after each hidden layer's linear map "
        "(mini-batch statistics in training, running statistics reported for prediction).",
    )

    @model_validator(mode="after")
    def _one_source(self) -> DatasetLossSpec:
        inline = self.X is not None or self.y is not None
        if inline == (self.generate is not None):
            raise ValueError("give either X and y, or generate")
        if inline and (self.X is None or self.y is None):
            raise ValueError("X and y go together")
        return self


LossSpec = Annotated[
    ExpressionLossSpec | BuiltinLossSpec | QuadraticLossSpec | DatasetLossSpec,
    Field(discriminator="type"),
]


class SGDSpec(Spec):
    """torch.optim.SGD: plain, momentum or Nesterov gradient descent."""

    name: Literal["sgd"]
    lr: Positive = 1e-3
    momentum: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] = 0.0
    dampening: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] = 0.0
    nesterov: bool = False
    weight_decay: NonNegative = 0.0

    @model_validator(mode="after")
    def _nesterov_needs_momentum(self) -> SGDSpec:
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("nesterov requires momentum > 0 and dampening = 0")
        return self


class AdamSpec(Spec):
    """torch.optim.Adam, optionally AMSGrad, optionally without bias correction."""

    name: Literal["adam"]
    lr: Positive = 1e-3
    beta1: Unit = 0.9
    beta2: Unit = 0.999
    eps: NonNegative = 1e-8
    weight_decay: NonNegative = 0.0
    amsgrad: bool = False
    bias_correction: bool = True


# The optimizers below take their field descriptions from ``core.catalogue`` (the data behind
# GET /v1/optimizers); a test checks names, defaults and ranges agree with it.
ClosedUnit = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]


class MomentumSpec(Spec):
    """Gradient descent with heavy-ball momentum, in torch's accumulator form (v ← ρv + g;
    θ ← θ − γv) or the velocity form (v ← ρv − γg; θ ← θ + v)."""

    name: Literal["momentum"]
    lr: Positive = Field(1e-3, description=_meaning("momentum", "lr"))
    momentum: ClosedUnit = Field(0.9, description=_meaning("momentum", "momentum"))
    form: Literal["accumulator", "velocity"] = Field(
        "accumulator", description=_meaning("momentum", "form")
    )


class NesterovSpec(Spec):
    """Nesterov's accelerated gradient, in torch's form (SGD with nesterov=True) or the
    look-ahead form (gradient at θ + ρv)."""

    name: Literal["nesterov"]
    lr: Positive = Field(1e-3, description=_meaning("nesterov", "lr"))
    momentum: ClosedUnit = Field(0.9, description=_meaning("nesterov", "momentum"))
    form: Literal["torch", "lookahead"] = Field("torch", description=_meaning("nesterov", "form"))


class AdagradSpec(Spec):
    """torch.optim.Adagrad: s ← s + g²; θ ← θ − γ̃ g/(√s + ε)."""

    name: Literal["adagrad"]
    lr: Positive = Field(1e-2, description=_meaning("adagrad", "lr"))
    lr_decay: NonNegative = Field(0.0, description=_meaning("adagrad", "lr_decay"))
    weight_decay: NonNegative = Field(0.0, description=_meaning("adagrad", "weight_decay"))
    initial_accumulator_value: NonNegative = Field(
        0.0, description=_meaning("adagrad", "initial_accumulator_value")
    )
    eps: NonNegative = Field(1e-10, description=_meaning("adagrad", "eps"))


class RMSpropSpec(Spec):
    """torch.optim.RMSprop: v ← αv + (1−α)g²; θ ← θ − γ g/(√v + ε), optionally centered and
    with momentum."""

    name: Literal["rmsprop"]
    lr: Positive = Field(1e-2, description=_meaning("rmsprop", "lr"))
    alpha: Unit = Field(0.99, description=_meaning("rmsprop", "alpha"))
    eps: NonNegative = Field(1e-8, description=_meaning("rmsprop", "eps"))
    weight_decay: NonNegative = Field(0.0, description=_meaning("rmsprop", "weight_decay"))
    momentum: ClosedUnit = Field(0.0, description=_meaning("rmsprop", "momentum"))
    centered: bool = Field(False, description=_meaning("rmsprop", "centered"))


class AdamWSpec(Spec):
    """torch.optim.AdamW: θ ← θ(1 − γλ), then Adam's step."""

    name: Literal["adamw"]
    lr: Positive = Field(1e-3, description=_meaning("adamw", "lr"))
    beta1: Unit = Field(0.9, description=_meaning("adamw", "beta1"))
    beta2: Unit = Field(0.999, description=_meaning("adamw", "beta2"))
    eps: NonNegative = Field(1e-8, description=_meaning("adamw", "eps"))
    weight_decay: NonNegative = Field(1e-2, description=_meaning("adamw", "weight_decay"))
    amsgrad: bool = Field(False, description=_meaning("adamw", "amsgrad"))
    bias_correction: bool = Field(True, description=_meaning("adamw", "bias_correction"))


class NAdamSpec(Spec):
    """torch.optim.NAdam: Adam with Nesterov momentum and a momentum schedule."""

    name: Literal["nadam"]
    lr: Positive = Field(2e-3, description=_meaning("nadam", "lr"))
    beta1: Unit = Field(0.9, description=_meaning("nadam", "beta1"))
    beta2: Unit = Field(0.999, description=_meaning("nadam", "beta2"))
    eps: NonNegative = Field(1e-8, description=_meaning("nadam", "eps"))
    weight_decay: NonNegative = Field(0.0, description=_meaning("nadam", "weight_decay"))
    momentum_decay: NonNegative = Field(4e-3, description=_meaning("nadam", "momentum_decay"))
    decoupled_weight_decay: bool = Field(
        False, description=_meaning("nadam", "decoupled_weight_decay")
    )


class RAdamSpec(Spec):
    """torch.optim.RAdam: Adam with a rectified adaptive learning rate."""

    name: Literal["radam"]
    lr: Positive = Field(1e-3, description=_meaning("radam", "lr"))
    beta1: Unit = Field(0.9, description=_meaning("radam", "beta1"))
    beta2: Unit = Field(0.999, description=_meaning("radam", "beta2"))
    eps: NonNegative = Field(1e-8, description=_meaning("radam", "eps"))
    weight_decay: NonNegative = Field(0.0, description=_meaning("radam", "weight_decay"))
    decoupled_weight_decay: bool = Field(
        False, description=_meaning("radam", "decoupled_weight_decay")
    )


class AdamaxSpec(Spec):
    """torch.optim.Adamax: Adam with the infinity norm, u ← max(β₂u, |g| + ε)."""

    name: Literal["adamax"]
    lr: Positive = Field(2e-3, description=_meaning("adamax", "lr"))
    beta1: Unit = Field(0.9, description=_meaning("adamax", "beta1"))
    beta2: Unit = Field(0.999, description=_meaning("adamax", "beta2"))
    eps: NonNegative = Field(1e-8, description=_meaning("adamax", "eps"))
    weight_decay: NonNegative = Field(0.0, description=_meaning("adamax", "weight_decay"))


class NewtonSpec(Spec):
    """Damped Newton's method θ ← θ − γ(H + δI)⁻¹g, for small n; drawn to saddle points."""

    name: Literal["newton"]
    lr: Positive = Field(1.0, description=_meaning("newton", "lr"))
    damping: NonNegative = Field(0.0, description=_meaning("newton", "damping"))


OptimizerSpec = Annotated[
    SGDSpec
    | AdamSpec
    | MomentumSpec
    | NesterovSpec
    | AdagradSpec
    | RMSpropSpec
    | AdamWSpec
    | NAdamSpec
    | AdamaxSpec
    | RAdamSpec
    | NewtonSpec,
    Field(discriminator="name"),
]


class Warmup(Spec):
    """Fields every schedule shares: an optional linear warmup in front of it, and the unit
    k counts in."""

    unit: Literal["step", "epoch"] = Field(
        "step", description="What k counts: steps taken, or completed epochs (dataset losses)."
    )

    warmup_steps: Annotated[int, Field(ge=0)] = 0
    warmup_start_factor: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] = 0.0


class ConstantSchedule(Warmup):
    """γ_k = lr."""

    type: Literal["constant"]


class StepSchedule(Warmup):
    """γ_k = lr·gamma^⌊k/step_size⌋ (torch's StepLR)."""

    type: Literal["step"]
    step_size: Annotated[int, Field(ge=1)]
    gamma: Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)] = 0.1


class ExponentialSchedule(Warmup):
    """γ_k = lr·gamma^k (torch's ExponentialLR)."""

    type: Literal["exponential"]
    gamma: Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)]


class InverseSqrtSchedule(Warmup):
    """γ_k = lr/√(k+1)."""

    type: Literal["inverse_sqrt"]


class CosineSchedule(Warmup):
    """γ_k = eta_min + (lr − eta_min)(1 + cos(πk/t_max))/2 (torch's CosineAnnealingLR)."""

    type: Literal["cosine"]
    t_max: Annotated[int, Field(ge=1)]
    eta_min: NonNegative = 0.0


ScheduleSpec = Annotated[
    ConstantSchedule | StepSchedule | ExponentialSchedule | InverseSqrtSchedule | CosineSchedule,
    Field(discriminator="type"),
]


class StopSpec(Spec):
    """When to stop. Tolerances of 0 disable their test."""

    max_steps: Annotated[int, Field(ge=0)] | None = Field(
        None, description="Total steps; the server's default when omitted."
    )
    max_epochs: Annotated[int, Field(ge=0)] | None = Field(
        None,
        description="Dataset losses: total passes over the data (with max_steps, the first "
        "reached stops).",
    )
    grad_tol: NonNegative = Field(1e-8, description="Converged once ‖∇f‖ ≤ grad_tol.")
    loss_tol: NonNegative = Field(0.0, description="Converged once |Δf| over a step ≤ loss_tol.")
    param_bound: Positive = Field(1e12, description="Diverged once some |θᵢ| exceeds this.")
    loss_bound: Positive = Field(1e100, description="Diverged once |f| exceeds this.")
    time_limit: Positive | None = Field(
        None, description="Seconds of computation allowed (capped by the server's own limit)."
    )


class RecordSpec(Spec):
    """Which trajectory columns to return, and how densely."""

    every: Annotated[int, Field(ge=1)] = Field(
        1, description="Keep every k-th step (the start and the last point are always kept)."
    )
    grad: bool = Field(False, description="Add the gradient column.")
    lr: bool = Field(False, description="Add the learning rate of the step reaching each point.")
    state: bool = Field(
        False,
        description="Add the optimizer's internals (velocity, moments, accumulators) under "
        "`state`, and `update`: the change θ_t − θ_{t−1} the step reaching each point made.",
    )


class RunSpec(Spec):
    """One optimization: a loss, an optimizer, a start and the rules of the run."""

    loss: LossSpec
    optimizer: OptimizerSpec
    schedule: ScheduleSpec | None = None
    start: list[FiniteFloat] | None = Field(
        None,
        min_length=1,
        description="θ₀, one number per variable; dataset losses may omit it (zeros for the "
        "linear models, a seeded torch-style initialisation for mlp).",
    )
    stop: StopSpec = StopSpec()
    record: RecordSpec = RecordSpec()
    analysis: bool = Field(
        True, description="Analyse the final point (Hessian, class); sessions ignore it."
    )

    @model_validator(mode="after")
    def _start_given(self) -> RunSpec:
        if self.start is None and not isinstance(self.loss, DatasetLossSpec):
            missing = PydanticCustomError(
                "missing", "Field required (only dataset losses have a default start)"
            )
            raise ValidationError.from_exception_data(
                type(self).__name__, [InitErrorDetails(type=missing, loc=("start",), input=None)]
            )
        return self


class BatchRunSpec(Spec):
    """Several optimizers from many starts on one loss, stepped together (vectorised)."""

    loss: LossSpec
    optimizers: list[OptimizerSpec] = Field(min_length=1, description="Each runs from every start.")
    starts: list[list[FiniteFloat]] = Field(min_length=1, description="θ₀ of each run.")
    schedule: ScheduleSpec | None = None
    stop: StopSpec = StopSpec()
    record: RecordSpec = RecordSpec()
    analysis: bool = Field(True, description="Analyse each run's final point (Hessian, class).")


class SessionPatch(Spec):
    """Changes for a session's steps to come; the step count carries on.

    ``optimizer`` and ``stop`` and ``record`` are merged into the current ones (the optimizer's
    ``name`` cannot change); ``schedule`` replaces the current one (null removes it)."""

    optimizer: dict[str, Any] | None = Field(
        None, description='Hyperparameters to change, e.g. {"lr": 0.01}.', examples=[{"lr": 0.01}]
    )
    schedule: ScheduleSpec | None = Field(None, description="The new schedule; null removes it.")
    stop: dict[str, Any] | None = Field(
        None, description='Stopping-rule fields to change, e.g. {"max_steps": 5000}.'
    )
    record: dict[str, Any] | None = Field(None, description="Recording fields to change.")


class ResetRequest(Spec):
    """Back to step 0, optionally from a new start."""

    start: list[FiniteFloat] | None = Field(None, min_length=1, description="A new θ₀.")
