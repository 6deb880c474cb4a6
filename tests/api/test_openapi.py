"""openapi.yaml equals the app's schema; operation ids are stable; /docs works offline."""

from __future__ import annotations

import yaml
from fastapi.testclient import TestClient

from api.openapi import SCHEMA_PATH, openapi_schema, render

OPERATIONS = {
    ("get", "/healthz"): "healthz",
    ("get", "/readyz"): "readyz",
    ("post", "/v1/analyze"): "analyze",
    ("post", "/v1/runs"): "create_run",
    ("post", "/v1/sessions"): "create_session",
    ("get", "/v1/sessions/{session_id}"): "get_session",
    ("delete", "/v1/sessions/{session_id}"): "delete_session",
    ("post", "/v1/sessions/{session_id}/step"): "step_session",
    ("get", "/v1/sessions/{session_id}/trajectory"): "get_session_trajectory",
}


def test_openapi_yaml_is_up_to_date() -> None:
    committed = SCHEMA_PATH.read_text(encoding="utf-8")
    assert yaml.safe_load(committed) == openapi_schema(), (
        "openapi.yaml is stale: run `python -m api.openapi`"
    )
    assert committed == render(openapi_schema())


def test_operation_ids_are_stable() -> None:
    paths = openapi_schema()["paths"]
    found = {
        (method, path): operation["operationId"]
        for path, item in paths.items()
        for method, operation in item.items()
    }
    assert {key: found[key] for key in OPERATIONS} == OPERATIONS


def test_served_schema_matches(client: TestClient) -> None:
    assert client.get("/openapi.json").json() == openapi_schema()


def test_docs_render_without_a_cdn(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "https://" not in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/static/swagger-ui/{asset}" in page.text
        served = client.get(f"/static/swagger-ui/{asset}")
        assert served.status_code == 200
        assert len(served.content) > 10_000
