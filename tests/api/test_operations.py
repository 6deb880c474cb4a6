"""Request ids, JSON logs, Prometheus metrics and graceful shutdown."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.observability import access_log
from service.settings import Settings
from tests.server import Server

RUN = {
    "loss": {"type": "expression", "expression": "x^2 + y^2"},
    "optimizer": {"name": "sgd", "lr": 0.1},
    "start": [1, 1],
    "stop": {"max_steps": 25, "grad_tol": 0},
}


def metric(text: str, line_start: str) -> float:
    values = [
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(line_start)
    ]
    assert values, f"no metric line starts with {line_start}"
    return sum(values)


def test_request_ids_are_echoed_or_made(client: TestClient) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == (
        "abc-123"
    )
    made = client.get("/healthz", headers={"X-Request-ID": "bad id"}).headers["x-request-id"]
    assert len(made) == 32
    assert client.get("/nowhere").headers["x-request-id"]


def test_one_json_log_line_per_request(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("descent.access")
    logger.addHandler(caplog.handler)
    try:
        client.post("/v1/runs", json=RUN, headers={"X-Request-ID": "trace-1"})
    finally:
        logger.removeHandler(caplog.handler)
    records = [r for r in caplog.records if getattr(r, "request_id", None) == "trace-1"]
    assert records
    record = records[0]
    line = json.loads(logging.getLogger("descent").handlers[0].format(record))
    assert line["message"] == "request"
    assert line["route"] == "/v1/runs"
    assert line["status"] == 200
    assert line["duration_ms"] > 0


def test_access_lines_are_the_json_formatters_lines(client: TestClient) -> None:
    service = logging.getLogger("descent")
    handler = service.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    others = service.handlers[1:]  # pytest's own capture handlers
    for other in others:
        service.removeHandler(other)
    written = io.StringIO()
    previous = handler.setStream(written)
    try:
        assert access_log._direct_handler() is handler  # the quick path, not a logging call
        client.post("/v1/runs", json=RUN, headers={"X-Request-ID": "trace-2"})
    finally:
        handler.setStream(previous)
        for other in others:
            service.addHandler(other)
    lines = [json.loads(line) for line in written.getvalue().splitlines()]
    [line] = [line for line in lines if line.get("request_id") == "trace-2"]
    fields = {k: line[k] for k in ("request_id", "method", "path", "route", "status")}
    assert fields == {
        "request_id": "trace-2",
        "method": "POST",
        "path": "/v1/runs",
        "route": "/v1/runs",
        "status": 200,
    }
    record = logging.getLogger("descent.access").makeRecord(
        "descent.access", logging.INFO, "", 0, "request", (), None,
        extra=fields | {"duration_ms": line["duration_ms"]},
    )  # fmt: skip
    record.created = time.mktime(time.strptime(line["time"], "%Y-%m-%dT%H:%M:%S"))
    assert json.loads(handler.format(record)) == line
    assert list(json.loads(handler.format(record))) == list(line)


LONG_RUN = RUN | {"stop": {"max_steps": 5_000, "grad_tol": 0}}  # an answer of about 400 KB


def test_large_json_answers_go_gzipped_to_clients_that_accept_gzip(client: TestClient) -> None:
    plain = client.post("/v1/runs", json=LONG_RUN, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200
    assert "content-encoding" not in plain.headers
    assert plain.headers["vary"] == "Accept-Encoding"
    assert int(plain.headers["content-length"]) == len(plain.content) > 65_536
    packed = client.post("/v1/runs", json=LONG_RUN, headers={"Accept-Encoding": "br, gzip"})
    assert packed.status_code == 200
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["vary"] == "Accept-Encoding"
    assert int(packed.headers["content-length"]) == packed.num_bytes_downloaded
    assert packed.num_bytes_downloaded < len(plain.content) / 2
    assert packed.json() == plain.json()
    refused = client.post("/v1/runs", json=LONG_RUN, headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers
    small = client.post("/v1/runs", json=RUN, headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers
    assert "vary" not in small.headers
    assert len(small.content) == int(small.headers["content-length"]) < 65_536


def test_compression_can_be_turned_off(tmp_path: Path) -> None:
    settings = Settings(store_url=f"sqlite:///{tmp_path / 'd.db'}", compress_min_bytes=0)
    with TestClient(create_app(settings)) as client:
        answer = client.post("/v1/runs", json=LONG_RUN, headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 200
    assert "content-encoding" not in answer.headers
    assert "vary" not in answer.headers


def test_metrics(client: TestClient) -> None:
    before = client.get("/metrics").text
    client.post("/v1/runs", json=RUN)
    session = client.post("/v1/sessions", json=RUN | {"stop": {"grad_tol": 0}}).json()
    client.post(f"/v1/sessions/{session['id']}/step", json={"steps": 4})
    client.get("/v1/sessions/does-not-exist")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    runs = 'descent_http_requests_total{method="POST",route="/v1/runs",status="200"}'
    assert metric(text, runs) - (metric(before, runs) if runs in before else 0) == 1
    assert (
        metric(
            text,
            'descent_http_requests_total{method="GET",route="/v1/sessions/{session_id}",status="404"}',
        )
        >= 1
    )
    assert metric(text, 'descent_optimizer_steps_total{kind="run"}') >= 25
    assert metric(text, 'descent_optimizer_steps_total{kind="session"}') >= 4
    assert metric(text, "descent_live_sessions") == 1
    assert metric(text, "descent_store_up") == 1
    assert metric(text, "descent_compile_cache_hits_total") >= 1
    assert (
        'descent_http_request_duration_seconds_bucket{le="0.1",method="POST",route="/v1/runs"}'
        in text
    )


@pytest.mark.slow
def test_sigterm_finishes_in_flight_steps(tmp_path: Path) -> None:
    env = {"DESCENT_STORE_URL": f"sqlite:///{tmp_path / 'd.db'}"}
    slow = RUN | {
        "loss": {"type": "expression", "expression": "(1-x)^2 + 100*(y-x^2)^2 + 0.1*sin(3*x*y)"},
        "optimizer": {"name": "nesterov", "lr": 1e-4, "form": "lookahead"},
        "stop": {"grad_tol": 0},
    }
    server = Server(env)
    try:
        session_id = httpx.post(f"{server.url}/v1/sessions", json=slow).json()["id"]
        with ThreadPoolExecutor(max_workers=1) as pool:
            in_flight = pool.submit(
                httpx.post, f"{server.url}/v1/sessions/{session_id}/step",
                json={"steps": 10_000}, timeout=60,
            )  # fmt: skip
            time.sleep(0.3)
            os.killpg(server.process.pid, signal.SIGTERM)
            answer = in_flight.result()
        assert answer.status_code == 200
        assert answer.json()["step"] == 10_000
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert server.process.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        server.stop()
    restarted = Server(env)
    try:
        state = httpx.get(f"{restarted.url}/v1/sessions/{session_id}").json()
        assert state["step"] == 10_000
        assert state["params"] == answer.json()["params"]
    finally:
        restarted.stop()
