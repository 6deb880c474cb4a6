"""A 10,000-step Adam run on 2-D Rosenbrock: over HTTP, in the core, and hand-written in NumPy.

Run: ``.venv/bin/python -m bench.http_run``. All figures come from one run on one machine, so
compare the ratios; absolute times move with the machine's load.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx
import numpy as np
import orjson
from fastapi.encoders import jsonable_encoder

from api.render import run_body
from service.runs import run_optimization
from service.settings import Settings
from service.specs import RunSpec
from tests.helpers import InProcessCompiler
from tests.server import running_server

STEPS = 10_000
EXPRESSION = "(1 - x)**2 + 100*(y - x**2)**2"
BODY = {
    "loss": {"type": "expression", "expression": EXPRESSION},
    "optimizer": {"name": "adam", "lr": 0.01},
    "start": [-1.2, 1.0],
    "stop": {"max_steps": STEPS, "grad_tol": 0},
}


def best_of(repeats: int, action: Callable[[], object]) -> float:
    """Median seconds of ``repeats`` calls (after one warm-up)."""
    action()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        action()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def hand_written_adam() -> np.ndarray:
    """The same loop by hand: the loss's value and gradient, Adam, and the recording."""
    theta = np.array([-1.2, 1.0])
    m, v = np.zeros(2), np.zeros(2)
    params, losses, norms = np.empty((STEPS + 1, 2)), np.empty(STEPS + 1), np.empty(STEPS + 1)
    for t in range(STEPS + 1):
        x, y = theta
        r = y - x * x
        loss = (1 - x) ** 2 + 100 * r * r
        g = np.array([-2 * (1 - x) - 400 * x * r, 200 * r])
        params[t], losses[t], norms[t] = theta, loss, np.sqrt(g @ g)
        if t == STEPS:
            break
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        step = t + 1
        theta = theta - 0.01 / (1 - 0.9**step) * m / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    return params


def main() -> None:
    settings = Settings()
    spec = RunSpec.model_validate(BODY)
    compiler = InProcessCompiler()
    outcome = run_optimization(spec, compiler, settings)
    body = run_body(outcome, with_lr=False)

    hand = best_of(5, hand_written_adam)
    core = best_of(5, lambda: run_optimization(spec, compiler, settings))
    encode_orjson = best_of(20, lambda: orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY))
    plain = json.loads(orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY))
    encode_default = best_of(5, lambda: json.dumps(jsonable_encoder(plain)).encode())
    with TemporaryDirectory() as folder:
        env = {"DESCENT_STORE_URL": f"sqlite:///{Path(folder) / 'bench.db'}"}
        with running_server(env) as server, httpx.Client(base_url=server.url, timeout=60) as http:
            over_http = best_of(5, lambda: http.post("/v1/runs", json=BODY).raise_for_status())

    rows = [
        ("hand-written NumPy loop", hand),
        ("core run (compute + final analysis)", core),
        ("encode answer: orjson", encode_orjson),
        ("encode answer: FastAPI default (jsonable_encoder + json)", encode_default),
        ("POST /v1/runs over HTTP (loopback, one worker)", over_http),
    ]
    print(f"{STEPS:,}-step Adam on 2-D Rosenbrock, median of repeated runs")
    print(f"{'what':<58} {'ms':>9} {'µs/step':>9} {'× hand':>7}")
    for label, seconds in rows:
        print(
            f"{label:<58} {seconds * 1e3:>9.1f} {seconds / STEPS * 1e6:>9.2f} "
            f"{seconds / hand:>7.2f}"
        )
    print(f"answer size: {len(orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)):,} bytes")


if __name__ == "__main__":
    main()
