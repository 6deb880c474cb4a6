"""POST /v1/analyze."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient


def analyze(client: TestClient, expression: str, point: list[float], **extra: Any) -> Any:
    body = {"loss": {"type": "expression", "expression": expression}, "point": point} | extra
    return client.post("/v1/analyze", json=body)


def test_saddle_answer(client: TestClient) -> None:
    response = analyze(client, "x**2 - 3*y**2 + 0.5*x*y", [0, 0])
    assert response.status_code == 200
    body = response.json()
    hessian = np.array([[2.0, 0.5], [0.5, -6.0]])
    expected_values, _ = np.linalg.eigh(hessian)
    assert body["variables"] == ["x", "y"]
    assert body["value"] == 0.0
    assert body["gradient"] == [0.0, 0.0]
    assert body["gradient_norm"] == 0.0
    np.testing.assert_allclose(body["hessian"], hessian)
    np.testing.assert_allclose(body["eigenvalues"], expected_values)
    vectors = np.array(body["eigenvectors"])
    np.testing.assert_allclose(hessian @ vectors, vectors * expected_values, atol=1e-12)
    assert body["curvature"] == "indefinite"
    assert body["classification"] == "saddle_point"
    escape = np.array(body["escape_direction"])
    np.testing.assert_allclose(hessian @ escape, expected_values[0] * escape, atol=1e-12)
    assert body["optimal_momentum"] is None
    spectral_norm = np.abs(expected_values).max()
    assert body["tolerances"] == {
        "gradient": pytest.approx(1e-6 * spectral_norm),
        "eigenvalue": pytest.approx(1e-8 * spectral_norm),
    }


@pytest.mark.parametrize(
    ("expression", "point", "classification"),
    [
        ("x**4 + y**4", [0, 0], "degenerate"),
        ("x**3 - 3*x*y**2", [0, 0], "degenerate"),
        ("(1 - x)**2 + 100*(y - x**2)**2", [1, 1], "local_minimum"),
        ("-(x^2) - y^2", [0, 0], "local_maximum"),
        ("x^2 + y^2", [0.5, 0], "not_critical"),
    ],
)
def test_classifications(
    client: TestClient, expression: str, point: list[float], classification: str
) -> None:
    response = analyze(client, expression, point)
    assert response.status_code == 200
    assert response.json()["classification"] == classification


def test_minimum_extras(client: TestClient) -> None:
    body = analyze(client, "0.5*x^2 + 50*y^2", [0, 0]).json()
    assert body["condition_number"] == pytest.approx(100.0)
    assert body["stability_bound"] == pytest.approx(0.02)
    assert body["optimal_momentum"]["momentum"] == pytest.approx((9 / 11) ** 2)
    assert body["escape_direction"] is None


def test_custom_tolerance_changes_the_verdict(client: TestClient) -> None:
    near = [1e-4, 0.0]
    assert analyze(client, "x^2 + y^2", near).json()["classification"] == "not_critical"
    loose = analyze(client, "x^2 + y^2", near, gradient_tol=1e-3).json()
    assert loose["classification"] == "local_minimum"


@pytest.mark.parametrize(
    ("body", "loc", "fragment"),
    [
        ({"point": [1, 2, 3]}, ["body", "point"],
         "has 3 numbers but the loss has 2 variables (x, y)"),
        ({"point": []}, ["body", "point"], "at least 1 item"),
        ({"loss": {"type": "expression", "expression": "x + os.system"}},
         ["body", "loss", "expression"], "os"),
        ({"loss": {"type": "expression", "expression": "x**2", "variables": ["1x"]}},
         ["body", "loss", "variables", 0], "pattern"),
        ({"gradient_tol": -1}, ["body", "gradient_tol"], "greater than 0"),
        ({"surprise": 1}, ["body", "surprise"], "Extra inputs are not permitted"),
        ({"loss": {"type": "nonsense"}}, ["body", "loss"], "expression"),
    ],
)  # fmt: skip
def test_refusals_name_the_field(
    client: TestClient, body: dict[str, Any], loc: list[Any], fragment: str
) -> None:
    request = {"loss": {"type": "expression", "expression": "x^2 + y^2"}, "point": [0, 0]} | body
    response = client.post("/v1/analyze", json=request)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    assert problem["errors"][0]["loc"] == loc
    assert fragment in problem["errors"][0]["msg"]
    assert fragment in problem["detail"]


def test_non_finite_derivatives_are_a_422(client: TestClient) -> None:
    response = analyze(client, "sqrt(x) + y", [0, 1])
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "point"]


@pytest.mark.parametrize("literal", ["1e999", "NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_refused(client: TestClient, literal: str) -> None:
    text = f'{{"loss": {{"type": "expression", "expression": "x^2"}}, "point": [{literal}]}}'
    response = client.post(
        "/v1/analyze", content=text, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "point", 0]
    assert "finite" in response.json()["errors"][0]["msg"]
