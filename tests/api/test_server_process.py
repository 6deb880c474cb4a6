"""Against a real server process: SIGKILL loses no acknowledged step; parallel steps each apply
exactly once, also across worker processes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.server import Server, running_server

BODY: dict[str, Any] = {
    "loss": {"type": "expression", "expression": "(1 - x)^2 + 100*(y - x^2)^2 + 0.1*sin(x*y)"},
    "optimizer": {"name": "adam", "lr": 0.03, "amsgrad": True, "weight_decay": 0.01},
    "schedule": {"type": "cosine", "t_max": 20, "eta_min": 0.001},
    "start": [-1.2, 1.0],
    "stop": {"grad_tol": 0},
}

pytestmark = pytest.mark.slow


def uninterrupted(url: str, steps: int) -> list[list[float]]:
    body = BODY | {"stop": {"grad_tol": 0, "max_steps": steps}}
    params: list[list[float]] = httpx.post(f"{url}/v1/runs", json=body).json()["trajectory"][
        "params"
    ]
    return params


def test_sigkill_loses_no_acknowledged_step(tmp_path: Path) -> None:
    env = {"DESCENT_STORE_URL": f"sqlite:///{tmp_path / 'durable.db'}"}
    server = Server(env)
    try:
        session_id = httpx.post(f"{server.url}/v1/sessions", json=BODY).json()["id"]
        for _ in range(7):
            answer = httpx.post(f"{server.url}/v1/sessions/{session_id}/step", json={"steps": 3})
            assert answer.status_code == 200
        acknowledged = answer.json()
        server.kill()
    finally:
        server.stop()

    with running_server(env) as restarted:
        state = httpx.get(f"{restarted.url}/v1/sessions/{session_id}").json()
        assert state["step"] == 21
        assert state["params"] == acknowledged["params"]
        assert state["version"] == acknowledged["version"]
        more = httpx.post(f"{restarted.url}/v1/sessions/{session_id}/step", json={"steps": 19})
        assert more.json()["step"] == 40
        stored = httpx.get(f"{restarted.url}/v1/sessions/{session_id}/trajectory").json()
        assert stored["trajectory"]["step"] == list(range(41))
        np.testing.assert_array_equal(
            stored["trajectory"]["params"], uninterrupted(restarted.url, 40)
        )


@pytest.mark.parametrize("workers", [1, 2])
def test_parallel_steps_each_apply_exactly_once(tmp_path: Path, workers: int) -> None:
    env = {"DESCENT_STORE_URL": f"sqlite:///{tmp_path / 'parallel.db'}"}
    with running_server(env, workers=workers) as server:
        session_id = httpx.post(f"{server.url}/v1/sessions", json=BODY).json()["id"]

        def step(_: int) -> list[int]:
            with httpx.Client(base_url=server.url, timeout=30) as http:
                answer = http.post(f"/v1/sessions/{session_id}/step", json={"steps": 2})
                assert answer.status_code == 200, answer.text
                steps: list[int] = answer.json()["trajectory"]["step"]
                return steps

        with ThreadPoolExecutor(max_workers=8) as pool:
            answered = list(pool.map(step, range(24)))
        taken = sorted(s for steps in answered for s in steps)
        assert taken == list(range(1, 49))
        stored = httpx.get(f"{server.url}/v1/sessions/{session_id}/trajectory").json()
        assert stored["version"] == 25
        np.testing.assert_array_equal(stored["trajectory"]["params"], uninterrupted(server.url, 48))
