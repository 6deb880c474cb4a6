"""POST /v1/sessions/{id}/run with live Server-Sent Events, against a real server process."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.server import Server, running_server

pytestmark = pytest.mark.slow

BODY: dict[str, Any] = {
    "loss": {"type": "builtin", "name": "rosenbrock"},
    "optimizer": {"name": "adam", "lr": 0.02},
    "start": [-1.2, 1.0],
    "stop": {"grad_tol": 1e-5, "max_steps": 4000},
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder: Path = tmp_path_factory.mktemp("events")
    with running_server({"DESCENT_STORE_URL": f"sqlite:///{folder / 'd.db'}"}) as running:
        yield running


Event = tuple[str, str | None, Any]


def read_events(
    url: str, limit: int | None = None, headers: dict[str, str] | None = None
) -> list[Event]:
    """(event, id, data) until the stream ends (or after ``limit`` points events)."""
    events: list[Event] = []
    name, event_id, data = "message", None, []
    with httpx.stream("GET", url, timeout=30, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("id: "):
                event_id = line[4:]
            elif line.startswith("data: "):
                data.append(line[6:])
            elif line == "" and data:
                events.append((name, event_id, json.loads("\n".join(data))))
                name, event_id, data = "message", None, []
                if limit is not None and sum(e[0] == "points" for e in events) >= limit:
                    return events
    return events


def test_watchers_see_every_point_then_the_status(server: Server) -> None:
    session_id = httpx.post(f"{server.url}/v1/sessions", json=BODY).json()["id"]
    events_url = f"{server.url}/v1/sessions/{session_id}/events"
    watched: dict[str, list[Event]] = {}
    watchers = [
        threading.Thread(target=lambda k=k: watched.__setitem__(k, read_events(events_url)))
        for k in ("first", "second")
    ]
    quitter = threading.Thread(
        target=lambda: watched.__setitem__("quitter", read_events(events_url, limit=1))
    )
    for thread in (*watchers, quitter):
        thread.start()
    time.sleep(0.5)
    ran = httpx.post(f"{server.url}/v1/sessions/{session_id}/run", json={"chunk": 100}, timeout=60)
    assert ran.status_code == 200
    final = ran.json()
    assert final["status"] == "converged"
    assert final["steps_taken"] == final["step"]
    for thread in (*watchers, quitter):
        thread.join(timeout=30)
    for key in ("first", "second"):
        events = watched[key]
        points = [e for e in events if e[0] == "points"]
        steps = [s for _, _, data in points for s in data["step"]]
        assert steps == list(range(1, final["step"] + 1))
        assert [int(i) for _, i, data in points if i] == [data["step"][-1] for _, _, data in points]
        assert events[-1][0] == "end"
        assert events[-1][2]["status"] == "converged"
        assert events[-1][2]["params"] == final["params"]
    assert len([e for e in watched["quitter"] if e[0] == "points"]) == 1
    stored = httpx.get(f"{server.url}/v1/sessions/{session_id}/trajectory").json()
    streamed = [
        p
        for _, _, data in watched["first"]
        if "params" in data and "step" in data and isinstance(data["step"], list)
        for p in data["params"]
    ]
    np.testing.assert_array_equal(streamed, stored["trajectory"]["params"][1:])


def test_reconnecting_with_last_event_id_resumes(server: Server) -> None:
    session_id = httpx.post(f"{server.url}/v1/sessions", json=BODY).json()["id"]
    httpx.post(
        f"{server.url}/v1/sessions/{session_id}/run",
        json={"max_steps": 300, "chunk": 100},
        timeout=60,
    )
    events = read_events(
        f"{server.url}/v1/sessions/{session_id}/events", limit=1, headers={"Last-Event-ID": "120"}
    )
    first = next(data for name, _, data in events if name == "points")
    assert first["step"][0] == 121


def test_a_stopped_session_ends_the_stream_at_once(server: Server) -> None:
    body = BODY | {"start": [1.0, 1.0]}
    session_id = httpx.post(f"{server.url}/v1/sessions", json=body).json()["id"]
    events = read_events(f"{server.url}/v1/sessions/{session_id}/events")
    assert [e[0] for e in events] == ["end"]
    assert events[0][2]["status"] == "converged"
    assert httpx.get(f"{server.url}/v1/sessions/nope/events").status_code == 404
    refused = httpx.post(f"{server.url}/v1/sessions/{session_id}/run", json={})
    assert refused.status_code == 409
