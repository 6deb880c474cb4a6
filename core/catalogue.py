"""The optimizer catalogue (``GET /v1/optimizers``) as plain data.

One entry per optimizer: its hyperparameters (name, type, default, valid range, meaning) under
the API's names (torch's, with ``beta1``/``beta2`` for ``betas``), its forms where the seeds give
two, the update rule as text, the torch.optim class it reproduces (if any), the sources, and the
per-step internals it reports (``core.internals``). ``service.specs`` takes its field
descriptions from here, and a test checks that names, defaults and ranges agree with the
request models. ``optimizer_catalogue()`` returns JSON-ready dicts and lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Hyperparameter:
    """One argument of an optimizer. Bounds are ``None`` when open-ended."""

    name: str
    type: str  # "number", "boolean" or "string" (``choices`` lists the strings)
    default: float | bool | str
    meaning: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    choices: tuple[str, ...] = ()

    def range_text(self) -> str | None:
        """The valid range in interval notation, e.g. ``[0, 1)``, or None."""
        if self.type != "number":
            return None
        low = "(-∞" if self.minimum is None else "(["[not self.exclusive_minimum] + _g(self.minimum)
        high = "∞)" if self.maximum is None else _g(self.maximum) + ")]"[not self.exclusive_maximum]
        return f"{low}, {high}"


@dataclass(frozen=True)
class Form:
    """One of two equivalent-looking ways to write an update rule."""

    name: str
    rule: str
    torch: str | None
    description: str


@dataclass(frozen=True)
class Internal:
    """A per-row array ``core.internals.optimizer_internals`` reports, and when."""

    name: str
    meaning: str
    when: str | None = None


@dataclass(frozen=True)
class OptimizerEntry:
    """One optimizer of the catalogue."""

    name: str
    title: str
    rule: str
    torch: str | None
    hyperparameters: tuple[Hyperparameter, ...]
    references: tuple[str, ...]
    notes: str = ""
    forms: tuple[Form, ...] = ()
    internals: tuple[Internal, ...] = ()


def _g(value: float) -> str:
    return f"{value:g}"


def _lr(default: float) -> Hyperparameter:
    return Hyperparameter(
        "lr",
        "number",
        default,
        "Learning rate γ₀: the step size, or the schedule's starting value when a schedule is "
        "given.",
        minimum=0.0,
        exclusive_minimum=True,
    )


def _beta(index: int, default: float) -> Hyperparameter:
    what = "gradient (first moment m)" if index == 1 else "squared gradient (second moment v)"
    return Hyperparameter(
        f"beta{index}",
        "number",
        default,
        f"β{'₁' if index == 1 else '₂'}: decay rate of the running average of the {what}; "
        f"torch's betas[{index - 1}].",
        minimum=0.0,
        maximum=1.0,
        exclusive_maximum=True,
    )


def _eps(default: float) -> Hyperparameter:
    return Hyperparameter(
        "eps",
        "number",
        default,
        "ε added to the denominator so that it never vanishes.",
        minimum=0.0,
    )


def _momentum(default: float, meaning: str) -> Hyperparameter:
    return Hyperparameter("momentum", "number", default, meaning, minimum=0.0, maximum=1.0)


def _non_negative(name: str, default: float, meaning: str) -> Hyperparameter:
    return Hyperparameter(name, "number", default, meaning, minimum=0.0)


def _flag(name: str, default: bool, meaning: str) -> Hyperparameter:
    return Hyperparameter(name, "boolean", default, meaning)


def _form(default: str, choices: tuple[str, ...], meaning: str) -> Hyperparameter:
    return Hyperparameter("form", "string", default, meaning, choices=choices)


_L2 = _non_negative("weight_decay", 0.0, "L2 penalty λ folded into the gradient: g ← g + λθ.")
_DECOUPLABLE = _non_negative(
    "weight_decay",
    0.0,
    "Weight decay λ: g ← g + λθ, or θ ← θ(1 − γλ) before the step with decoupled_weight_decay.",
)
_DECOUPLED_FLAG = _flag(
    "decoupled_weight_decay",
    False,
    "Apply weight_decay as AdamW does (θ ← θ(1 − γλ)) instead of adding λθ to the gradient.",
)
_AMSGRAD = _flag(
    "amsgrad",
    False,
    "AMSGrad: divide by the running maximum of v instead of v (Reddi et al., 2018).",
)
_BIAS_CORRECTION = _flag(
    "bias_correction",
    True,
    "Divide m and v by 1 − βᵗ. Without it the first steps are tiny, because m and v start at "
    "zero (false has no torch.optim equivalent).",
)

_EXP_AVG = Internal("exp_avg", "First moment m: running average of the gradient.")
_EXP_AVG_SQ = Internal("exp_avg_sq", "Second moment v: running average of the squared gradient.")
_MAX_EXP_AVG_SQ = Internal("max_exp_avg_sq", "Running maximum of v.", when="amsgrad")
_MOMENTUM_BUFFER = Internal("momentum_buffer", "Momentum buffer b (b ← μb + g).")
_VELOCITY = Internal("velocity", "Velocity v (v ← ρv − γg): the last displacement of θ.")

_KINGMA = "Kingma & Ba (2015), Adam: A Method for Stochastic Optimization, ICLR."
_SUTSKEVER = (
    "Sutskever, Martens, Dahl & Hinton (2013), On the importance of initialization and "
    "momentum in deep learning, ICML."
)

CATALOGUE: tuple[OptimizerEntry, ...] = (
    OptimizerEntry(
        "sgd",
        "Stochastic gradient descent",
        "g ← g + λθ;  b₁ = g₁, b_t = μb_{t−1} + (1−τ)g_t;  d = g + μb_t (nesterov) or b_t;  "
        "θ ← θ − γd.  With μ = 0: θ ← θ − γg.",
        "torch.optim.SGD",
        (
            _lr(1e-3),
            _momentum(0.0, "Momentum factor μ (0: plain gradient descent)."),
            Hyperparameter(
                "dampening",
                "number",
                0.0,
                "Dampening τ: the new gradient enters the buffer as (1 − τ)g (not on step 1).",
                minimum=0.0,
                maximum=1.0,
            ),
            _flag("nesterov", False, "Nesterov momentum (needs momentum > 0, dampening = 0)."),
            _L2,
        ),
        ("Robbins & Monro (1951); torch.optim.SGD.",),
        internals=(Internal("momentum_buffer", "Momentum buffer b.", when="momentum > 0"),),
    ),
    OptimizerEntry(
        "momentum",
        "Gradient descent with (heavy-ball) momentum",
        "accumulator: v ← ρv + g;  θ ← θ − γv.   velocity: v ← ρv − γg;  θ ← θ + v.",
        "torch.optim.SGD",
        (
            _lr(1e-3),
            _momentum(0.9, "Momentum ρ: the fraction of the previous velocity kept each step."),
            _form(
                "accumulator",
                ("accumulator", "velocity"),
                "Where the learning rate sits: outside the accumulated gradients (torch) or "
                "inside the velocity (Sutskever).",
            ),
        ),
        (
            "Polyak (1964), Some methods of speeding up the convergence of iteration methods.",
            _SUTSKEVER,
        ),
        notes="At a constant learning rate both forms give the same trajectory; under a "
        "schedule the accumulator form rescales the whole history by today's γ, the velocity "
        "form scales each gradient by the γ of its own step.",
        forms=(
            Form(
                "accumulator",
                "v ← ρv + g;  θ ← θ − γv",
                "torch.optim.SGD(momentum=ρ)",
                "torch's form (the seeds' second form).",
            ),
            Form(
                "velocity",
                "v ← ρv − γg;  θ ← θ + v",
                None,
                "The textbook form: v is the displacement of θ.",
            ),
        ),
        internals=(
            Internal("momentum_buffer", "Accumulated gradients v.", when="form = accumulator"),
            Internal("velocity", _VELOCITY.meaning, when="form = velocity"),
        ),
    ),
    OptimizerEntry(
        "nesterov",
        "Nesterov's accelerated gradient",
        "torch: b ← ρb + g;  θ ← θ − γ(g + ρb).   lookahead: g̃ = ∇f(θ + ρv);  v ← ρv − γg̃;  "
        "θ ← θ + v.",
        "torch.optim.SGD",
        (
            _lr(1e-3),
            _momentum(0.9, "Momentum ρ: the fraction of the previous velocity kept each step."),
            _form(
                "torch",
                ("torch", "lookahead"),
                "torch's rewritten form, or the gradient taken at the look-ahead point θ + ρv.",
            ),
        ),
        (
            "Nesterov (1983), A method for solving the convex programming problem with "
            "convergence rate O(1/k²).",
            _SUTSKEVER,
        ),
        notes="The two forms give the same trajectory up to the change of variable "
        "θ_torch = θ_lookahead + ρv (at a constant learning rate). The lookahead form evaluates "
        "one extra gradient per step.",
        forms=(
            Form(
                "torch",
                "b ← ρb + g;  θ ← θ − γ(g + ρb)",
                "torch.optim.SGD(momentum=ρ, nesterov=True)",
                "The gradient at the current point; the point tracked is the look-ahead point.",
            ),
            Form(
                "lookahead",
                "g̃ = ∇f(θ + ρv);  v ← ρv − γg̃;  θ ← θ + v",
                None,
                "The seeds' form: peek ahead along the velocity, then correct.",
            ),
        ),
        internals=(
            Internal("momentum_buffer", "Momentum buffer b.", when="form = torch"),
            Internal("velocity", _VELOCITY.meaning, when="form = lookahead"),
        ),
    ),
    OptimizerEntry(
        "adagrad",
        "Adagrad",
        "g ← g + λθ;  s ← s + g²;  θ ← θ − γ̃ g/(√s + ε),  γ̃ = γ/(1 + (t−1)·lr_decay).",
        "torch.optim.Adagrad",
        (
            _lr(1e-2),
            _non_negative(
                "lr_decay", 0.0, "Learning-rate decay: step t uses γ/(1 + (t − 1)·lr_decay)."
            ),
            _L2,
            _non_negative(
                "initial_accumulator_value",
                0.0,
                "Starting value of the accumulator s of squared gradients.",
            ),
            _eps(1e-10),
        ),
        (
            "Duchi, Hazan & Singer (2011), Adaptive subgradient methods for online learning and "
            "stochastic optimization, JMLR.",
        ),
        notes="The accumulator only grows, so the steps shrink and Adagrad eventually stalls.",
        internals=(Internal("sum", "Accumulator s: the sum of squared gradients."),),
    ),
    OptimizerEntry(
        "rmsprop",
        "RMSprop",
        "g ← g + λθ;  v ← αv + (1−α)g²;  centered: ḡ ← αḡ + (1−α)g, d = √(v − ḡ²) + ε, "
        "else d = √v + ε;  momentum μ > 0: b ← μb + g/d, θ ← θ − γb;  else θ ← θ − γg/d.",
        "torch.optim.RMSprop",
        (
            _lr(1e-2),
            Hyperparameter(
                "alpha",
                "number",
                0.99,
                "Smoothing constant α of the running average of g² (the seeds use 0.9).",
                minimum=0.0,
                maximum=1.0,
                exclusive_maximum=True,
            ),
            _eps(1e-8),
            _L2,
            _momentum(0.0, "Momentum factor μ applied to the scaled step (0: none)."),
            _flag(
                "centered",
                False,
                "Normalise by an estimate of the gradient's variance, v − ḡ², instead of v.",
            ),
        ),
        (
            "Tieleman & Hinton (2012), Lecture 6.5, COURSERA: Neural Networks for Machine "
            "Learning.",
            "Graves (2013), Generating sequences with recurrent neural networks (centered form).",
        ),
        notes="No bias correction: the averages start at zero, as in torch.",
        internals=(
            Internal("square_avg", "Running average v of the squared gradient."),
            Internal("grad_avg", "Running average ḡ of the gradient.", when="centered"),
            Internal("momentum_buffer", "Momentum buffer b.", when="momentum > 0"),
        ),
    ),
    OptimizerEntry(
        "adam",
        "Adam",
        "g ← g + λθ;  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  m̂ = m/(1−β₁ᵗ);  "
        "v̂ = v/(1−β₂ᵗ);  θ ← θ − γm̂/(√v̂ + ε).",
        "torch.optim.Adam",
        (_lr(1e-3), _beta(1, 0.9), _beta(2, 0.999), _eps(1e-8), _L2, _AMSGRAD, _BIAS_CORRECTION),
        (
            _KINGMA,
            "Reddi, Kale & Kumar (2018), On the convergence of Adam and beyond, ICLR (AMSGrad).",
        ),
        internals=(_EXP_AVG, _EXP_AVG_SQ, _MAX_EXP_AVG_SQ),
    ),
    OptimizerEntry(
        "adamw",
        "AdamW",
        "θ ← θ(1 − γλ);  then Adam without λ in the gradient: m ← β₁m + (1−β₁)g;  "
        "v ← β₂v + (1−β₂)g²;  θ ← θ − γm̂/(√v̂ + ε).",
        "torch.optim.AdamW",
        (
            _lr(1e-3),
            _beta(1, 0.9),
            _beta(2, 0.999),
            _eps(1e-8),
            _non_negative(
                "weight_decay", 1e-2, "Decoupled weight decay λ: θ ← θ(1 − γλ) every step."
            ),
            _AMSGRAD,
            _BIAS_CORRECTION,
        ),
        ("Loshchilov & Hutter (2019), Decoupled weight decay regularization, ICLR.", _KINGMA),
        internals=(_EXP_AVG, _EXP_AVG_SQ, _MAX_EXP_AVG_SQ),
    ),
    OptimizerEntry(
        "nadam",
        "NAdam (Adam with Nesterov momentum)",
        "μ_t = β₁(1 − ½·0.96^(tψ));  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  "
        "d = √(v/(1−β₂ᵗ)) + ε;  θ ← θ − γ(1−μ_t)/(1−∏μᵢ)·g/d − γμ_{t+1}/(1−∏μᵢ·μ_{t+1})·m/d.",
        "torch.optim.NAdam",
        (
            _lr(2e-3),
            _beta(1, 0.9),
            _beta(2, 0.999),
            _eps(1e-8),
            _DECOUPLABLE,
            _non_negative(
                "momentum_decay",
                4e-3,
                "ψ in the momentum schedule μ_t = β₁(1 − ½·0.96^(tψ)).",
            ),
            _DECOUPLED_FLAG,
        ),
        ("Dozat (2016), Incorporating Nesterov momentum into Adam, ICLR workshop.",),
        internals=(_EXP_AVG, _EXP_AVG_SQ),
    ),
    OptimizerEntry(
        "radam",
        "RAdam (rectified Adam)",
        "m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  m̂ = m/(1−β₁ᵗ);  ρ_∞ = 2/(1−β₂) − 1;  "
        "ρ_t = ρ_∞ − 2tβ₂ᵗ/(1−β₂ᵗ);  if ρ_t > 5: θ ← θ − γm̂·r_t·√(1−β₂ᵗ)/(√v + ε), "
        "r_t = √((ρ_t−4)(ρ_t−2)ρ_∞/((ρ_∞−4)(ρ_∞−2)ρ_t));  else θ ← θ − γm̂.",
        "torch.optim.RAdam",
        (
            _lr(1e-3),
            _beta(1, 0.9),
            _beta(2, 0.999),
            _eps(1e-8),
            _DECOUPLABLE,
            _DECOUPLED_FLAG,
        ),
        ("Liu et al. (2020), On the variance of the adaptive learning rate and beyond, ICLR.",),
        notes="The first steps (ρ_t ≤ 5) are momentum SGD steps without adaptive scaling.",
        internals=(_EXP_AVG, _EXP_AVG_SQ),
    ),
    OptimizerEntry(
        "adamax",
        "Adamax",
        "g ← g + λθ;  m ← β₁m + (1−β₁)g;  u ← max(β₂u, |g| + ε);  θ ← θ − γ/(1−β₁ᵗ)·m/u.",
        "torch.optim.Adamax",
        (_lr(2e-3), _beta(1, 0.9), _beta(2, 0.999), _eps(1e-8), _L2),
        (_KINGMA + " §7.1.",),
        internals=(
            _EXP_AVG,
            Internal("exp_inf", "Infinity-norm accumulator u: the decayed maximum of |g|."),
        ),
    ),
    OptimizerEntry(
        "newton",
        "Damped Newton's method",
        "θ ← θ − γ(H + δI)⁻¹g,  H the exact Hessian at θ.",
        None,
        (
            Hyperparameter(
                "lr",
                "number",
                1.0,
                "Step length γ along the Newton direction (1: the full Newton step).",
                minimum=0.0,
                exclusive_minimum=True,
            ),
            _non_negative(
                "damping",
                0.0,
                "δ added to the Hessian's diagonal (Levenberg-style); larger δ moves the step "
                "towards gradient descent with rate γ/δ.",
            ),
        ),
        ("Nocedal & Wright (2006), Numerical Optimization, 2nd ed., §3.3–3.4.",),
        notes="Costs a Hessian and an O(n³) solve per step, so it is limited to small n (50). "
        "It seeks a zero of the gradient: where H is indefinite the step need not descend, and "
        "it is drawn to saddle points (from (1, 1) on x² − y² one step lands on the saddle). "
        "A damping above −λ_min(H) restores descent. Where H + δI is singular the "
        "minimum-norm (pseudo-inverse) step is taken.",
    ),
)


def optimizer_names() -> tuple[str, ...]:
    """Every optimizer name, in catalogue order."""
    return tuple(entry.name for entry in CATALOGUE)


def entry(name: str) -> OptimizerEntry:
    """The catalogue entry of optimizer ``name`` (KeyError if there is none)."""
    for candidate in CATALOGUE:
        if candidate.name == name:
            return candidate
    raise KeyError(name)


def meaning(optimizer: str, hyperparameter: str) -> str:
    """The meaning of one hyperparameter of one optimizer (for field descriptions)."""
    for candidate in entry(optimizer).hyperparameters:
        if candidate.name == hyperparameter:
            return candidate.meaning
    raise KeyError(f"{optimizer}.{hyperparameter}")


def optimizer_catalogue() -> list[dict[str, Any]]:
    """The catalogue as JSON-ready data: a list of dicts, one per optimizer.

    Each has ``name``, ``title``, ``rule``, ``torch`` (the torch.optim call its default form
    reproduces to 1e-12, or null), ``matches_torch``, ``hyperparameters`` (each with ``name``,
    ``type``, ``default``, ``minimum``, ``maximum``, ``exclusive_minimum``,
    ``exclusive_maximum``, ``range`` in interval notation, ``choices`` and ``meaning``),
    ``forms`` (each with ``name``, ``rule``, ``torch``, ``matches_torch``, ``default``,
    ``description``), ``internals`` (each with ``name``, ``meaning``, ``when``), ``notes`` and
    ``references``.
    """
    return [_entry_json(item) for item in CATALOGUE]


def _entry_json(item: OptimizerEntry) -> dict[str, Any]:
    default_form = next((h.default for h in item.hyperparameters if h.name == "form"), None)
    torch = item.torch
    if item.forms:
        torch = next(form.torch for form in item.forms if form.name == default_form)
    return {
        "name": item.name,
        "title": item.title,
        "rule": item.rule,
        "torch": torch,
        "matches_torch": torch is not None,
        "hyperparameters": [_hyperparameter_json(h) for h in item.hyperparameters],
        "forms": [
            {
                "name": form.name,
                "rule": form.rule,
                "torch": form.torch,
                "matches_torch": form.torch is not None,
                "default": form.name == default_form,
                "description": form.description,
            }
            for form in item.forms
        ],
        "internals": [
            {"name": internal.name, "meaning": internal.meaning, "when": internal.when}
            for internal in item.internals
        ],
        "notes": item.notes,
        "references": list(item.references),
    }


def _hyperparameter_json(h: Hyperparameter) -> dict[str, Any]:
    return {
        "name": h.name,
        "type": h.type,
        "default": h.default,
        "minimum": h.minimum,
        "maximum": h.maximum,
        "exclusive_minimum": h.exclusive_minimum,
        "exclusive_maximum": h.exclusive_maximum,
        "range": h.range_text(),
        "choices": list(h.choices),
        "meaning": h.meaning,
    }
