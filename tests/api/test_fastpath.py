"""The lean step path (api.fastpath) answers exactly as the FastAPI route does.

Two apps, one with the lean path and one without, get the same requests on sessions made alike;
every answer must have the same status, headers and body (ids and timestamps aside)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.routes.sessions import take_steps
from service.settings import Settings

SESSION: dict[str, Any] = {
    "loss": {"type": "builtin", "name": "rosenbrock"},
    "optimizer": {"name": "adam", "lr": 0.01},
    "start": [-1.2, 1.0],
    "stop": {"grad_tol": 0, "max_steps": 12},
}
JSON = {"content-type": "application/json"}
# (path after /v1/sessions/{id}, headers, body): good requests and bad ones, in this order.
CASES: list[tuple[str, dict[str, str], bytes]] = [
    ("/step", JSON, b'{"steps": 1}'),
    ("/step", JSON, b'{"steps": 2}'),
    ("/step", JSON, b"{}"),
    ("/step", {"content-type": "application/json; charset=utf-8"}, b' {"steps" : 1} '),
    ("/step", JSON, b'{"steps": 1.0}'),
    ("/step", JSON, b'{"steps": "1"}'),
    ("/step", JSON, b'{"steps": 1, "steps": 1}'),
    ("/step", JSON, b'{"steps": 0}'),
    ("/step", JSON, b'{"steps": -3}'),
    ("/step", JSON, b'{"steps": 1.5}'),
    ("/step", JSON, b'{"steps": 100000000000000000000000000000}'),
    ("/step", JSON, b'{"steps": null}'),
    ("/step", JSON, b'{"steps": NaN}'),
    ("/step", JSON, b'{"steps": 1, "more": 1}'),
    ("/step", JSON, b"[]"),
    ("/step", JSON, b'"steps"'),
    ("/step", JSON, b""),
    ("/step", JSON, b"{not json"),
    ("/step", JSON, b'{"steps": 1'),
    ("/step", JSON, b'{"st\xffeps": 1}'),
    ("/step", JSON, b'{"steps": 1000000000}'),  # over the limit per request: the service says
    ("/step", {"content-type": "text/plain"}, b'{"steps": 1}'),
    ("/step", {}, b'{"steps": 1}'),
    ("/step", JSON | {"if-match": '"999"'}, b'{"steps": 1}'),
    ("/step", JSON | {"if-match": "seven"}, b'{"steps": 1}'),
    ("/step", JSON | {"idempotency-key": "k1"}, b'{"steps": 1}'),
    ("/step", JSON | {"idempotency-key": "k1"}, b'{"steps": 1}'),
    ("/step/", JSON, b'{"steps": 1}'),
    ("/step", JSON, b'{"steps": 5}'),  # more than the stopping rule leaves: stops at 12
    ("/step", JSON, b'{"steps": 1}'),  # stopped: 409
]
ELSEWHERE: list[tuple[str, dict[str, str], bytes]] = [
    ("/v1/sessions/no-such-session/step", JSON, b'{"steps": 1}'),
    ("/v1/sessions/bad.id/step", JSON, b'{"steps": 1}'),
    (f"/v1/sessions/{'a' * 65}/step", JSON, b'{"steps": 1}'),
    ("/v1/sessions//step", JSON, b'{"steps": 1}'),
]


@pytest.fixture
def clients(tmp_path: Path) -> Iterator[tuple[TestClient, TestClient]]:
    def app(name: str, lean: bool) -> Any:
        settings = Settings(store_url=f"sqlite:///{tmp_path / name}", max_steps_per_request=100)
        return create_app(settings, lean_step=lean)

    with TestClient(app("lean.db", True)) as lean, TestClient(app("route.db", False)) as route:
        yield lean, route


def normalised(response: Any, session_id: str) -> tuple[int, dict[str, str], Any]:
    text = response.content.replace(session_id.encode(), b"ID").decode("utf-8", "replace")
    text = re.sub(r'"(created_at|updated_at)":"[^"]*"', r'"\1":"T"', text)
    headers = {k: v for k, v in response.headers.items() if k != "x-request-id"}
    return response.status_code, headers, text


def test_the_lean_path_answers_as_the_route(
    clients: tuple[TestClient, TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    answered = []

    async def counted(*args: Any, **kwargs: Any) -> Any:
        answered.append(args)
        return await take_steps(*args, **kwargs)

    monkeypatch.setattr("api.fastpath.take_steps", counted)
    ids = [c.post("/v1/sessions", json=SESSION).json()["id"] for c in clients]
    statuses = set()
    for suffix, headers, body in CASES:
        got, want = (
            normalised(c.post(f"/v1/sessions/{i}{suffix}", headers=headers, content=body), i)
            for c, i in zip(clients, ids, strict=True)
        )
        assert got == want, (suffix, headers, body)
        statuses.add(got[0])
    for path, headers, body in ELSEWHERE:
        got, want = (c.post(path, headers=headers, content=body) for c in clients)
        assert normalised(got, "") == normalised(want, ""), path
        statuses.add(got.status_code)
    assert statuses >= {200, 400, 404, 409, 412, 422}
    # The lean path answered the plain requests and no other: the nine 200s (one after the
    # router's redirect from /step/), the over-limit one, the stopped one and the unknown id.
    assert len(answered) == 12
    for c in clients:
        metrics = c.get("/metrics").text
        assert 'route="/v1/sessions/{session_id}/step",status="200"' in metrics


def test_the_lean_path_keeps_the_api_key_check(tmp_path: Path) -> None:
    settings = Settings(store_url=f"sqlite:///{tmp_path / 'keys.db'}", api_keys="k-one,k-two")
    with TestClient(create_app(settings)) as client:
        one = {"x-api-key": "k-one"}
        session_id = client.post("/v1/sessions", json=SESSION, headers=one).json()["id"]
        path = f"/v1/sessions/{session_id}/step"
        assert client.post(path, json={"steps": 1}).status_code == 401
        assert client.post(path, json={"steps": 1}, headers={"x-api-key": "k-two"}).status_code == (
            404
        )
        stepped = client.post(path, json={"steps": 1}, headers=one)
        assert stepped.status_code == 200
        assert stepped.headers["etag"] == '"2"'
        assert stepped.json()["trajectory"]["step"] == [1]
