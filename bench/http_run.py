"""A 10,000-step Adam run on 2-D Rosenbrock written as an expression: by hand in NumPy, in the
service, and over HTTP.

Run: ``.venv/bin/python -m bench.http_run``. The rows:

- hand-written NumPy loop: Rosenbrock's value and gradient written out in NumPy scalar
  arithmetic, Adam in torch's order of operations (as the core evaluates it), θ, f and ‖∇f‖
  recorded at every step into preallocated arrays: what one writes for this one problem, with
  nothing to parse, check or send. Its θ must equal the service's over the first 1,000 steps
  to 1e-12 relative, or the script stops. (Not over all 10,000: the generated gradient is
  evaluated as −400·r·x + 2x − 2 where the hand loop has −2(1 − x) − 400·x·r, and Adam
  hovering at the minimum turns that last-bit difference into the third digit by step 10,000.)
- service: ``service.runs.run_optimization``, what the server does between reading the request
  and writing the answer, with the compiled loss from the compiler's cache as any request
  after the first finds it: building the problem, the run (stopping tests, divergence tests,
  recording), the analysis of the last point, and the answer's columns. Two of its parts are
  timed on their own: the run (``core.run.run``) and the final analysis.
- encode: the answer written by orjson, as the server's response class does, and for scale
  by FastAPI's default path (``jsonable_encoder``, then ``json.dumps``).
- POST /v1/runs: a uvicorn server on loopback (one worker, SQLite store), the request sent with
  httpx and the whole answer read, as it is (``Accept-Encoding: identity``: on loopback
  compression only costs time), and once more gzipped as a client across a network would take
  it (``DESCENT_COMPRESS_MIN_BYTES``), decompressed by httpx.

Every row is the fastest of several interleaved rounds of wall-clock time (the HTTP row spans
two processes, so CPU time cannot stand in for it): on a shared machine other processes only
ever add time, so the fastest round is the closest to the cost of the code. All come from one
run; compare the ratios, as absolute times move with the machine.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx
import numpy as np
import orjson
from fastapi.encoders import jsonable_encoder

from api.main import expression_limits
from api.render import run_body
from core import optimizers
from core.losses import Array
from core.run import StopRule, run, start_iterate
from core.schedules import constant
from service.expressions import ExpressionCompiler
from service.runs import final_analysis, run_optimization
from service.settings import Settings
from service.specs import RunSpec
from tests.server import running_server

STEPS = 10_000
EXPRESSION = "(1 - x)**2 + 100*(y - x**2)**2"
START = (-1.2, 1.0)
LR = 0.01
BODY = {
    "loss": {"type": "expression", "expression": EXPRESSION},
    "optimizer": {"name": "adam", "lr": LR},
    "start": list(START),
    "stop": {"max_steps": STEPS, "grad_tol": 0},
}
IDENTITY = {"Accept-Encoding": "identity"}
GZIP = {"Accept-Encoding": "gzip"}
AGREEMENT_STEPS = 1_000
AGREEMENT = 1e-12


def hand_written_adam() -> Array:
    """Adam on Rosenbrock by hand; the recorded θ, (STEPS + 1, 2)."""
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    one_minus_beta1, one_minus_beta2 = 1 - beta1, 1 - beta2
    theta = np.array(START)
    m, v = np.zeros(2), np.zeros(2)
    params, losses, norms = np.empty((STEPS + 1, 2)), np.empty(STEPS + 1), np.empty(STEPS + 1)
    for t in range(STEPS + 1):
        x, y = theta
        r = y - x * x
        g = np.array([-2 * (1 - x) - 400 * x * r, 200 * r])
        params[t], losses[t], norms[t] = theta, (1 - x) ** 2 + 100 * r * r, math.sqrt(g.dot(g))
        if t == STEPS:
            break
        m = m + one_minus_beta1 * (g - m)
        v = beta2 * v + one_minus_beta2 * g * g
        step = t + 1
        denom = np.sqrt(v) / math.sqrt(1 - beta2**step) + eps
        theta = theta - LR * (m / denom / (1 - beta1**step))
    return params


def fastest(actions: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Least wall-clock seconds of each action over ``repeats`` interleaved rounds, after one
    warm-up call each."""
    for action in actions.values():
        action()
    times: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(repeats):
        for name, action in actions.items():
            began = time.perf_counter()
            action()
            times[name].append(time.perf_counter() - began)
    return {name: min(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed rounds")
    repeats = parser.parse_args().repeats

    settings = Settings()
    spec = RunSpec.model_validate(BODY)
    with (
        ExpressionCompiler(expression_limits(settings), warm=False) as compiler,
        TemporaryDirectory() as folder,
    ):
        outcome = run_optimization(spec, compiler, settings)  # compiles; later calls hit the cache
        loss = compiler.compile(EXPRESSION, None)
        hand_params = hand_written_adam()
        kept = slice(0, AGREEMENT_STEPS + 1)
        served = outcome.trajectory.params[kept]
        difference = np.max(np.abs(served - hand_params[kept])) / np.max(np.abs(served))
        if not difference <= AGREEMENT:
            raise SystemExit(f"the hand loop's θ differs from the service's by {difference:.1e}")
        optimizer = optimizers.adam(constant(LR))
        start = start_iterate(loss, optimizer, np.array([START]))
        rule = StopRule(max_steps=STEPS)
        if not np.array_equal(
            run(loss, optimizer, start, rule, steps=STEPS).final.params, outcome.final.params
        ):
            raise SystemExit("core.run.run does not reproduce the service's run")
        body = run_body(outcome, with_lr=False)
        plain = json.loads(orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY))

        env = {"DESCENT_STORE_URL": f"sqlite:///{Path(folder) / 'bench.db'}"}
        with running_server(env) as server, httpx.Client(base_url=server.url, timeout=60) as http:
            seconds = fastest(
                {
                    "hand": hand_written_adam,
                    "service": lambda: run_optimization(spec, compiler, settings),
                    "run": lambda: run(loss, optimizer, start, rule, steps=STEPS, deadline=1e300),
                    "analysis": lambda: final_analysis(loss, outcome.final, settings),
                    "encode": lambda: orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY),
                    "default": lambda: json.dumps(jsonable_encoder(plain)).encode(),
                    "http": lambda: http.post(
                        "/v1/runs", json=BODY, headers=IDENTITY
                    ).raise_for_status(),
                    "gzip": lambda: http.post(
                        "/v1/runs", json=BODY, headers=GZIP
                    ).raise_for_status(),
                },
                repeats,
            )

    hand = seconds["hand"]
    rows = [
        ("hand-written NumPy loop", hand),
        ("service: run_optimization (cached loss)", seconds["service"]),
        ("  of which the run, core.run.run", seconds["run"]),
        ("  of which the final analysis", seconds["analysis"]),
        ("encode the answer: orjson", seconds["encode"]),
        ("encode the answer: FastAPI's default (jsonable_encoder + json)", seconds["default"]),
        ("POST /v1/runs over HTTP (loopback, one worker)", seconds["http"]),
        ("  the same, answered gzipped", seconds["gzip"]),
    ]
    print(f"{STEPS:,}-step Adam on 2-D Rosenbrock (an expression), fastest of {repeats} rounds")
    print(f"{'what':<62} {'ms':>8} {'µs/step':>8} {'× hand':>7}")
    for label, value in rows:
        print(f"{label:<62} {value * 1e3:>8.1f} {value / STEPS * 1e6:>8.2f} {value / hand:>7.2f}")
    size = len(orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY))
    print(
        f"answer: {size:,} bytes; the hand loop's θ equals the service's to {difference:.0e} "
        f"relative over the first {AGREEMENT_STEPS:,} steps"
    )
    over = seconds["http"] / hand
    verdict = "met" if over <= 1.5 else "NOT met"
    print(f"over HTTP within 1.5× of the hand loop: {verdict} ({over:.2f}×)")


if __name__ == "__main__":
    main()
