"""The ready-made lessons behind ``GET /v1/examples``: request bodies with their explanations.

Each lesson reproduces one point of the user's lecture notes (``shared/seeds``). ``request`` is
a complete body for ``endpoint`` (or a list of bodies, all for that endpoint, when a lesson
compares several); ``labels`` name the runs of the answer (a batch lists them optimizer-major)
or the requests, in order. ``claim`` states what the answer shows, with the thresholds that
``tests/api/test_examples.py`` checks against the service's real numbers.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.errors import NotFound

Endpoint = Literal["/v1/runs", "/v1/runs/batch", "/v1/analyze"]
Body = dict[str, Any]


class Claim(BaseModel):
    """What a lesson's answer shows: one sentence, and the numbers a check compares."""

    model_config = ConfigDict(frozen=True)

    statement: str
    expect: dict[str, Any]


class Example(BaseModel):
    """One lesson: a request to send and what to look for in the answer."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    title: str
    seeds: list[str]
    explanation: str
    endpoint: Endpoint
    request: Body | list[Body]
    labels: list[str]
    claim: Claim


# The saddle landscape three lessons share: a saddle at the origin (Hessian eigenvalues 2 and
# −1) between the minima (0, ±1), where f = −1/4.
SADDLE = {"type": "expression", "expression": "x^2 + y^4/4 - y^2/2"}

# A wide bowl around x = −3 with a dent on its right slope: a shallow local minimum at
# x ≈ 0.898 (f ≈ 0.560) behind a small bump at x ≈ 0.256 (f ≈ 0.951).
DENTED_BOWL = {"type": "expression", "expression": "0.1*(x + 3)^2 - exp(-4*(x - 1)^2)"}

EXAMPLES: tuple[Example, ...] = (
    Example(
        id="learning-rate-sizes",
        title="Learning rate too small, right, too large and diverging on the same loss",
        seeds=["004"],
        explanation=(
            "The first tip of the notes is to tune the learning rate η, and to watch the loss "
            "against the step when the surface cannot be drawn. One batch runs plain gradient "
            "descent (`sgd`) on f(x) = x² from x = 4 with four learning rates; compare each "
            "run's `trajectory.loss` and `trajectory.params`. The gradient is 2x, so a step "
            "multiplies x by 1 − 2η. With η = 0.003 the factor is 0.994: every step is right "
            "but tiny, and after 150 steps 16% of the starting loss is still there "
            "(`max_steps`). With η = 0.3 it is 0.4: x shrinks steadily and the run converges in "
            "18 steps. With η = 0.9 it is −0.8: each step jumps over the minimum to the other "
            "side (x changes sign every step) and the bouncing dies out only slowly, 72 steps. "
            "With η = 1.5 it is −2: every jump lands farther out than it started, the loss "
            "flies off and the run ends `diverged` after 37 steps. The border is the "
            "`stability_bound` 2/λmax that `/v1/analyze` reports, 1 here since the curvature "
            "is 2: above it gradient descent cannot converge on this bowl; between ½ and 1 it "
            "converges while overshooting."
        ),
        endpoint="/v1/runs/batch",
        request={
            "loss": {"type": "expression", "expression": "x^2"},
            "optimizers": [{"name": "sgd", "lr": lr} for lr in (0.003, 0.3, 0.9, 1.5)],
            "starts": [[4.0]],
            "stop": {"max_steps": 150, "grad_tol": 1e-6},
        },
        labels=[
            "too small (η = 0.003)",
            "right (η = 0.3)",
            "too large (η = 0.9)",
            "diverging (η = 1.5)",
        ],
        claim=Claim(
            statement="η = 0.003 still holds over 5% of the loss after 150 steps; η = 0.3 "
            "converges in at most 25 steps without overshooting; η = 0.9 converges, "
            "overshooting at every step, in at least 3 times as many steps; η = 1.5 diverges.",
            expect={
                "status": ["max_steps", "converged", "converged", "diverged"],
                "overshoots_every_step": [False, False, True, True],
                "too_small_loss_fraction_above": 0.05,
                "right_steps_at_most": 25,
                "too_large_step_ratio_at_least": 3.0,
            },
        ),
    ),
    Example(
        id="momentum-through-local-minimum",
        title="Momentum rolls through a shallow local minimum where gradient descent stops",
        seeds=["000", "001"],
        explanation=(
            "The loss f(x) = 0.1(x + 3)² − exp(−4(x − 1)²) is a wide bowl with its bottom at "
            "x = −3 (f = 0) and a dent on its right slope: a shallow local minimum at "
            "x ≈ 0.898 (f ≈ 0.56) behind a small bump at x ≈ 0.256. Both runs start at x = 3 "
            "with η = 0.1. Plain gradient descent follows the slope into the dent and stops: "
            "the gradient there is zero, so nothing moves it any more (converged at x ≈ 0.898 "
            "in 25 steps). Momentum, in the notes' form m ← λm − ηg, θ ← θ + m (`momentum` "
            "with `form: velocity`, λ = 0.9), moves by a decaying sum of all past gradients, "
            "not by the current one alone: in the dent the gradient vanishes but the "
            "accumulated movement does not, and on the far side, where the gradient points "
            "back, the earlier movement is still the stronger, so it climbs over the bump and "
            "settles at the deeper minimum x = −3 — like a ball that is not stopped by a small "
            "hollow. Compare `final.params` and `final.loss` (0.56 against 0); "
            "`analysis.classification` is `local_minimum` for both, the one gradient descent "
            "found is just the worse one. Momentum is no guarantee of the global minimum: "
            "with λ = 0.7 and η = 0.02, or a higher bump, it stops in the dent too."
        ),
        endpoint="/v1/runs/batch",
        request={
            "loss": DENTED_BOWL,
            "optimizers": [
                {"name": "sgd", "lr": 0.1},
                {"name": "momentum", "lr": 0.1, "momentum": 0.9, "form": "velocity"},
            ],
            "starts": [[3.0]],
            "stop": {"max_steps": 1000, "grad_tol": 1e-6},
        },
        labels=["gradient descent", "momentum (velocity form)"],
        claim=Claim(
            statement="Gradient descent ends in the shallow minimum x ≈ 0.898, momentum in the "
            "deep one x = −3, with a final loss lower by more than 0.4.",
            expect={
                "status": ["converged", "converged"],
                "final_x": [0.8984, -3.0],
                "tolerance": 1e-3,
                "loss_gap_above": 0.4,
            },
        ),
    ),
    Example(
        id="momentum-escapes-saddle",
        title="Momentum leaves a saddle point much sooner than gradient descent",
        seeds=["000", "001"],
        explanation=(
            "On f = x² + y⁴/4 − y²/2 the origin is a saddle point: the loss curves up along x "
            "and down along y (Hessian eigenvalues 2 and −1), and the minima are at (0, ±1) "
            "with f = −0.25. Both runs start at (1, 0.000001), almost exactly on the line that "
            "leads into the saddle, with a tiny component along its escape direction y, and "
            "use η = 0.1. Near the saddle the gradient is almost zero: gradient descent slides "
            "in along x and then creeps away along y, its y growing only by the factor "
            "1 + η·1 = 1.1 per step, so the loss sits on a plateau near 0 for a long time and "
            "|y| first exceeds 0.5 at step 139 — a plateau that is easy to mistake for "
            "convergence. Momentum (λ = 0.9) adds these small, consistently signed pushes up: "
            "its y grows by about 1.32 per step (the larger root of z² − (1 + λ + η)z + λ = 0), "
            "so it is out at step 50. Look at the second coordinate of `trajectory.params` "
            "and at the plateau in `trajectory.loss`; both runs end in a minimum with "
            "f = −0.25."
        ),
        endpoint="/v1/runs/batch",
        request={
            "loss": SADDLE,
            "optimizers": [
                {"name": "sgd", "lr": 0.1},
                {"name": "momentum", "lr": 0.1, "momentum": 0.9, "form": "velocity"},
            ],
            "starts": [[1.0, 1e-6]],
            "stop": {"max_steps": 400, "grad_tol": 1e-6},
        },
        labels=["gradient descent", "momentum (velocity form)"],
        claim=Claim(
            statement="Momentum's |y| passes 0.5 in at most half the steps gradient descent "
            "needs; both end at a minimum with f = −0.25.",
            expect={
                "escape_abs_y": 0.5,
                "step_ratio_at_most": 0.5,
                "final_loss": -0.25,
                "classification": ["local_minimum", "local_minimum"],
            },
        ),
    ),
    Example(
        id="momentum-forms-under-schedule",
        title="The two momentum forms: the same at a constant learning rate, not under a schedule",
        seeds=["003"],
        explanation=(
            "The notes prove that the velocity form v ← ρv − αg, x ← x + v and the "
            "accumulator form v ← ρv + g, x ← x − αv (torch's) move x by the same "
            "−α(g_t + ρg_{t−1} + ρ²g_{t−2} + …), and stress that the equivalence holds for the "
            "whole process, not for one step taken alone: the two v are different things, one "
            "a step already scaled by α, the other a sum of raw gradients. That difference "
            "shows as soon as α changes. This batch runs both forms (`momentum` with `form: "
            "velocity` and `form: accumulator`, α = 0.001, ρ = 0.9) on the Rosenbrock "
            "function from (−1.2, 1) under a step schedule that cuts α tenfold after 50 "
            "steps. For those 50 steps the two `trajectory.params` agree to rounding (about "
            "4e-16). From step 51 they split: the accumulator form multiplies its whole stored "
            "history by the new, smaller α, so it brakes at once; the velocity form's v still "
            "holds steps sized by the old α, which fade only at the rate ρ, so it coasts on. "
            "After 200 steps the points differ by about 0.12."
        ),
        endpoint="/v1/runs/batch",
        request={
            "loss": {"type": "builtin", "name": "rosenbrock"},
            "optimizers": [
                {"name": "momentum", "lr": 0.001, "momentum": 0.9, "form": "velocity"},
                {"name": "momentum", "lr": 0.001, "momentum": 0.9, "form": "accumulator"},
            ],
            "schedule": {"type": "step", "step_size": 50, "gamma": 0.1},
            "starts": [[-1.2, 1.0]],
            "stop": {"max_steps": 200, "grad_tol": 0},
        },
        labels=["velocity form", "accumulator form"],
        claim=Claim(
            statement="The trajectories agree to 1e-12 while α is constant (steps 0–50) and "
            "differ by more than 1e-3 after α drops.",
            expect={"same_through_step": 50, "same_tolerance": 1e-12, "difference_above": 1e-3},
        ),
    ),
    Example(
        id="nesterov-vs-momentum",
        title="Nesterov's look-ahead against classical momentum in an ill-conditioned valley",
        seeds=["002", "003"],
        explanation=(
            "Nesterov momentum looks ahead: the momentum term is going to move the parameters "
            "to x + ρv anyway, so it takes the gradient there rather than at x (`nesterov` "
            "with `form: lookahead`). The loss f = ½(x² + 100y²) is a valley ten times longer "
            "than wide, with the same learning rate 0.008 and momentum 0.9 for both, from "
            "(−1.5, 1). Classical momentum uses the gradient of where it is, not of where its "
            "velocity is taking it, so it keeps overshooting the valley floor across the steep "
            "y direction: its loss goes up on 130 of its steps, and at step 10 it is 16 (from "
            "51). The look-ahead gradient already feels the opposite wall and brakes before "
            "the overshoot: loss 0.55 at step 10, up on only 51 steps, converged "
            "(‖∇f‖ ≤ 1e-6) in 203 steps against 275. Compare the two `trajectory.loss` curves "
            "and `steps`. As the notes say, Nesterov is somewhat better in practice, not a "
            "different league — and its stable range of learning rates is narrower: with "
            "η = 0.015 here it diverges while classical momentum still converges."
        ),
        endpoint="/v1/runs/batch",
        request={
            "loss": {"type": "builtin", "name": "elongated_quadratic", "params": {"kappa": 100}},
            "optimizers": [
                {"name": "momentum", "lr": 0.008, "momentum": 0.9},
                {"name": "nesterov", "lr": 0.008, "momentum": 0.9, "form": "lookahead"},
            ],
            "starts": [[-1.5, 1.0]],
            "stop": {"max_steps": 1000, "grad_tol": 1e-6},
        },
        labels=["classical momentum", "Nesterov (look-ahead)"],
        claim=Claim(
            statement="Both converge; Nesterov needs at most 85% of momentum's steps, and its "
            "loss rises on fewer than 60% as many steps.",
            expect={
                "status": ["converged", "converged"],
                "step_ratio_at_most": 0.85,
                "loss_increase_ratio_below": 0.6,
            },
        ),
    ),
    Example(
        id="adagrad-stalls",
        title="AdaGrad stalls as its accumulator grows; RMSProp and Adam do not",
        seeds=["002", "003"],
        explanation=(
            "AdaGrad divides each coordinate's step by the root of the sum of all its past "
            "squared gradients — `trajectory.state.sum`, returned with `record.state`. That sum "
            "only grows, so the effective learning rate η/√sum only shrinks: the notes warn "
            "that this monotone decay is too aggressive and that AdaGrad 'stops halfway'. "
            "All three runs use η = 0.1 on the bowl f = x² + y² from the far point (8, −6). "
            "AdaGrad's first step is 0.14 long and its 500th 0.0045 (compare the rows of "
            "`trajectory.update`), although the gradient there is still about 9.6 long: it "
            "ends near (4.2, −2.4) with loss 22.9, about halfway. RMSProp (with the notes' "
            "decay 0.9) divides by a moving average of squared gradients instead, which "
            "forgets the old large ones, so its steps stay near η until it arrives: converged "
            "in about 130 steps. Adam — momentum plus RMSProp's scaling plus bias correction "
            "— converges too, in about 370."
        ),
        endpoint="/v1/runs/batch",
        request={
            "loss": {"type": "builtin", "name": "sphere"},
            "optimizers": [
                {"name": "adagrad", "lr": 0.1},
                {"name": "rmsprop", "lr": 0.1, "alpha": 0.9},
                {"name": "adam", "lr": 0.1},
            ],
            "starts": [[8.0, -6.0]],
            "stop": {"max_steps": 500, "grad_tol": 1e-6},
            "record": {"state": True},
        },
        labels=["AdaGrad", "RMSProp", "Adam"],
        claim=Claim(
            statement="After 500 steps AdaGrad's loss is over a million times RMSProp's and "
            "Adam's, which both converged; its accumulator never shrinks and its last step is "
            "under a tenth of its first.",
            expect={
                "status": ["max_steps", "converged", "converged"],
                "loss_ratio_above": 1e6,
                "last_step_fraction_below": 0.1,
            },
        ),
    ),
    Example(
        id="adam-bias-correction",
        title="Adam with and without bias correction",
        seeds=["002", "003"],
        explanation=(
            "Adam keeps m, a moving average of the gradients (decay β1), and v, a moving "
            "average of their squares (decay β2), both started at zero, and steps by "
            "lr·m/√v. Started at zero, both averages are too small during the first steps; "
            "bias correction divides them by 1 − β1ᵗ and 1 − β2ᵗ, so the very first step moves "
            "each coordinate by lr whatever the betas. Without it (`bias_correction: false`) "
            "the first step is scaled by (1 − β1)/√(1 − β2), and which bias wins depends on "
            "the betas. With β1 = β2 = 0.99, m holds 1% of g but √v 10% of |g|: the first "
            "update is a tenth of the corrected one and the steps stay small for dozens of "
            "steps — the tiny first steps the correction is usually said to fix. With torch's "
            "defaults (0.9, 0.999), √v is 3.2% of |g| while m is 10% of g: the uncorrected "
            "first step is 3.2 times too large and grows to about 6 times by step 10 — the "
            "'huge change at the start' the notes credit Adam with suppressing. Compare the "
            "first rows of `trajectory.update` (θ_t − θ_{t−1}, with `record.state`) of the "
            "four runs, on the bowl f = x² + y² from (3, 2) with lr 0.01."
        ),
        endpoint="/v1/runs/batch",
        request={
            "loss": {"type": "builtin", "name": "sphere"},
            "optimizers": [
                {"name": "adam", "lr": 0.01, "beta1": 0.99, "beta2": 0.99},
                {
                    "name": "adam",
                    "lr": 0.01,
                    "beta1": 0.99,
                    "beta2": 0.99,
                    "bias_correction": False,
                },
                {"name": "adam", "lr": 0.01},
                {"name": "adam", "lr": 0.01, "bias_correction": False},
            ],
            "starts": [[3.0, 2.0]],
            "stop": {"max_steps": 20},
            "record": {"state": True},
        },
        labels=[
            "β = (0.99, 0.99), corrected",
            "β = (0.99, 0.99), uncorrected",
            "β = (0.9, 0.999), corrected",
            "β = (0.9, 0.999), uncorrected",
        ],
        claim=Claim(
            statement="Corrected, the first step moves each coordinate by lr; uncorrected it is "
            "(1 − β1)/√(1 − β2) times that: under a third with β = (0.99, 0.99), over twice "
            "with torch's defaults.",
            expect={
                "corrected_first_step_in_lr": 1.0,
                "first_update_ratio": [
                    {"corrected": 0, "uncorrected": 1, "predicted": 0.1, "below": 1 / 3},
                    {"corrected": 2, "uncorrected": 3, "predicted": 0.1 / 0.001**0.5, "above": 2.0},
                ],
            },
        ),
    ),
    Example(
        id="hessian-classifies-critical-points",
        title="Minimum, maximum, saddle and degenerate points told apart by the Hessian",
        seeds=["001"],
        explanation=(
            "At a critical point the gradient is zero, so it cannot tell a minimum from a "
            "saddle; the notes use the Hessian H, the matrix of second derivatives. All its "
            "eigenvalues positive: a local minimum; all negative: a local maximum; some of "
            "each: a saddle point, and along the eigenvector of a negative eigenvalue "
            "(`escape_direction`) the loss goes down. Five `/v1/analyze` requests at the "
            "origin: x² + y² (eigenvalues 2, 2: `local_minimum`), −x² − y² (−2, −2: "
            "`local_maximum`), x² − y² (−2, 2: `saddle_point`, escape direction (0, 1)), and "
            "x⁴ + y⁴ and the monkey saddle x³ − 3xy², whose Hessians are both the zero matrix "
            "(`degenerate`). The last two are why the service says `degenerate` instead of "
            "guessing: the first is a true minimum and the second a saddle where three "
            "valleys meet, yet their second derivatives are identical; only higher-order "
            "terms decide. Look at `classification`, `eigenvalues`, `curvature` and "
            "`escape_direction` in each answer."
        ),
        endpoint="/v1/analyze",
        request=[
            {"loss": {"type": "expression", "expression": expression}, "point": [0.0, 0.0]}
            for expression in ("x^2 + y^2", "-x^2 - y^2", "x^2 - y^2", "x^4 + y^4", "x^3 - 3*x*y^2")
        ],
        labels=["bowl", "dome", "saddle", "flat-bottomed bowl", "monkey saddle"],
        claim=Claim(
            statement="The origin is a local minimum, a local maximum, a saddle point escaping "
            "along (0, 1), and twice degenerate.",
            expect={
                "classification": [
                    "local_minimum",
                    "local_maximum",
                    "saddle_point",
                    "degenerate",
                    "degenerate",
                ],
                "escape_direction": [None, None, [0.0, 1.0], None, None],
            },
        ),
    ),
    Example(
        id="schedule-tames-large-learning-rate",
        title="A decaying learning rate keeps a large rate's fast start and still settles",
        seeds=["004"],
        explanation=(
            "The notes: far from the minimum a large learning rate gets there faster; close "
            "to it the same rate jumps over the minimum, so reduce it by some factor every "
            "few epochs. The loss f(x) = √(1 + x²) − 1 has a slope of almost 1 far out, so "
            "gradient descent moves about η per step there, and is a bowl of curvature 1 near "
            "0, where it is stable only for η < 2. Three runs from x = 20: with η = 3 it is "
            "near 0 within 7 steps, then bounces for ever between x = ±1.118 (loss 0.5, "
            "`max_steps`); with η = 0.3 it is safe but needs 105 steps; with η = 3 halved "
            "every 10 steps (`schedule: step`) it arrives as fast as with η = 3, and once the "
            "rate is 1.5 it settles: converged in 19 steps. Compare `trajectory.loss` and "
            "`steps`; `record.lr` adds the rate of each step."
        ),
        endpoint="/v1/runs",
        request=[
            {
                "loss": {"type": "expression", "expression": "sqrt(1 + x^2) - 1"},
                "optimizer": {"name": "sgd", "lr": lr},
                "start": [20.0],
                "stop": {"max_steps": 300, "grad_tol": 1e-6},
            }
            | extra
            for lr, extra in (
                (3.0, {}),
                (0.3, {}),
                (
                    3.0,
                    {
                        "schedule": {"type": "step", "step_size": 10, "gamma": 0.5},
                        "record": {"lr": True},
                    },
                ),
            )
        ],
        labels=["η = 3, constant", "η = 0.3, constant", "η = 3, halved every 10 steps"],
        claim=Claim(
            statement="Constant η = 3 never converges (its loss stays at 0.5); η = 0.3 converges; "
            "η = 3 halved every 10 steps converges in under half η = 0.3's steps.",
            expect={
                "status": ["max_steps", "converged", "converged"],
                "large_final_loss_at_least": 0.25,
                "scheduled_step_ratio_at_most": 0.5,
            },
        ),
    ),
    Example(
        id="newton-drawn-to-saddle",
        title="Newton's method is drawn to a saddle point that gradient descent escapes",
        seeds=["001", "003"],
        explanation=(
            "Newton's method jumps to where the local quadratic model of the loss has zero "
            "gradient, θ − H⁻¹g. That point is the model's minimum only where the Hessian is "
            "positive definite; where the loss curves downward it is a maximum in that "
            "direction, and Newton steps towards it all the same — it is attracted by critical "
            "points of every kind, saddles included (besides costing O(n³) per step to invert "
            "H, as the notes point out). On f = x² + y⁴/4 − y²/2 the curvature along y is "
            "negative for |y| < 1/√3. From (1, 0.3), `newton` reaches the saddle at the origin "
            "in 3 steps: status `converged`, since the gradient is zero, but "
            "`analysis.classification` is `saddle_point`. Gradient descent (η = 0.1) from the "
            "same start is pushed away from the saddle by the negative curvature and ends at "
            "the minimum (0, 1) with loss −0.25."
        ),
        endpoint="/v1/runs/batch",
        request={
            "loss": SADDLE,
            "optimizers": [{"name": "newton"}, {"name": "sgd", "lr": 0.1}],
            "starts": [[1.0, 0.3]],
            "stop": {"max_steps": 500},
        },
        labels=["Newton", "gradient descent"],
        claim=Claim(
            statement="Both converge: Newton to the saddle (f = 0), gradient descent to a "
            "minimum (f = −0.25).",
            expect={
                "status": ["converged", "converged"],
                "classification": ["saddle_point", "local_minimum"],
                "final_loss": [0.0, -0.25],
            },
        ),
    ),
    Example(
        id="converged-at-a-saddle",
        title="A zero gradient means stop, not minimum",
        seeds=["001", "004"],
        explanation=(
            "Runs stop when the gradient is small, as the notes suggest, but a small gradient "
            "only says the point is critical (or merely flat): saddle points and local minima "
            "both have zero gradient, and gradient descent gets stuck at either. On "
            "f = x² + y⁴/4 − y²/2, gradient descent (η = 0.1) from (1, 0) lies exactly on the "
            "line y = 0, where the gradient has no y component, so it never leaves that line "
            "and converges to the saddle at the origin: status `converged`, yet "
            "`analysis.classification` is `saddle_point`, and `analysis.escape_direction` "
            "(0, 1) says where the loss still goes down. The second run starts 0.001 along "
            "that direction, at (1, 0.001), and ends at the minimum (0, 1) with loss −0.25. "
            "Always read the final `analysis`, not only the `status`."
        ),
        endpoint="/v1/runs/batch",
        request={
            "loss": SADDLE,
            "optimizers": [{"name": "sgd", "lr": 0.1}],
            "starts": [[1.0, 0.0], [1.0, 0.001]],
            "stop": {"max_steps": 500},
        },
        labels=["from (1, 0)", "from (1, 0.001)"],
        claim=Claim(
            statement="Both runs converge; the first to a saddle point whose escape direction "
            "is (0, 1), the second to a minimum.",
            expect={
                "status": ["converged", "converged"],
                "classification": ["saddle_point", "local_minimum"],
                "escape_direction": [0.0, 1.0],
            },
        ),
    ),
)

_BY_ID = {example.id: example for example in EXAMPLES}


def list_examples() -> tuple[Example, ...]:
    """Every lesson, in the catalogue's order."""
    return EXAMPLES


def get_example(example_id: str) -> Example:
    """One lesson by id; ``NotFound`` for an unknown id."""
    try:
        return _BY_ID[example_id]
    except KeyError:
        raise NotFound(f"no example with id {example_id!r}") from None
