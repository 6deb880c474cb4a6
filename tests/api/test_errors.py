"""Every error is an RFC 9457 problem document."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from service.settings import Settings

PROBLEM_KEYS = {"type", "title", "status", "detail"}


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert set(body) >= PROBLEM_KEYS
    assert body["status"] == status
    return body


def test_unknown_path(client: TestClient) -> None:
    body = assert_problem(client.get("/v1/nowhere"), 404)
    assert body["detail"] == "There is no resource at /v1/nowhere."


def test_wrong_method(client: TestClient) -> None:
    body = assert_problem(client.delete("/v1/runs"), 405)
    assert body["detail"] == "DELETE is not allowed on /v1/runs."


@pytest.mark.parametrize("text", ['{"loss": ', "{'single': 'quotes'}", "[1, 2", "\x00"])
def test_malformed_json(client: TestClient, text: str) -> None:
    response = client.post("/v1/runs", content=text, headers={"content-type": "application/json"})
    body = assert_problem(response, 400)
    assert body["title"] == "Malformed JSON"
    assert str(body["detail"]).startswith("The request body is not valid JSON")


def test_wrong_json_type(client: TestClient) -> None:
    body = assert_problem(client.post("/v1/runs", json=[1, 2]), 422)
    assert body["errors"] == [
        {"loc": ["body"], "msg": "Input should be a valid dictionary or object to extract "
         "fields from"}
    ]  # fmt: skip


def test_missing_fields_are_all_listed(client: TestClient) -> None:
    body = assert_problem(client.post("/v1/runs", json={}), 422)
    assert [e["loc"] for e in body["errors"]] == [["body", "loss"], ["body", "optimizer"]]
    assert body["detail"] == "body.loss: Field required (and 1 more)"


def test_a_start_is_required_unless_the_loss_has_data(client: TestClient) -> None:
    formula = {"loss": {"type": "expression", "expression": "x**2"}, "optimizer": {"name": "sgd"}}
    body = assert_problem(client.post("/v1/runs", json=formula), 422)
    assert body["errors"] == [
        {"loc": ["body", "start"],
         "msg": "Field required (only dataset losses have a default start)"}
    ]  # fmt: skip


@pytest.fixture
def small_client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(store_url=f"sqlite:///{tmp_path / 'd.db'}", max_body_bytes=200)
    with TestClient(create_app(settings)) as client:
        yield client


def test_body_over_the_limit(small_client: TestClient) -> None:
    text = '{"loss": {"type": "expression", "expression": "' + "x+" * 200 + 'x"}}'
    body = assert_problem(
        small_client.post("/v1/runs", content=text, headers={"content-type": "application/json"}),
        413,
    )
    assert body["detail"] == "The request body is larger than the limit of 200 bytes."


def test_chunked_body_over_the_limit(small_client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b" " * 50

    response = small_client.post(
        "/v1/runs", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_problem(response, 413)


def test_bodies_under_the_limit_pass(small_client: TestClient) -> None:
    response = small_client.post(
        "/v1/analyze",
        json={"loss": {"type": "expression", "expression": "x^2"}, "point": [1]},
    )
    assert response.status_code == 200
