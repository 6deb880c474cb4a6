"""POST /v1/landscape and POST /v1/critical-points."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from service.settings import Settings

HIMMELBLAU = {"type": "builtin", "name": "himmelblau"}


def strict_json(response: httpx.Response) -> Any:
    """The body, refusing the NaN and Infinity tokens strict JSON does not have."""

    def refuse(token: str) -> Any:
        raise AssertionError(f"non-standard JSON token {token}")

    return json.loads(response.text, parse_constant=refuse)


def expression(text: str, variables: list[str] | None = None) -> dict[str, Any]:
    loss: dict[str, Any] = {"type": "expression", "expression": text}
    if variables is not None:
        loss["variables"] = variables
    return loss


def refusal(response: httpx.Response, loc: list[Any], fragment: str = "") -> dict[str, Any]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = strict_json(response)
    assert problem["status"] == 422
    assert problem["errors"][0]["loc"] == loc
    assert fragment in problem["errors"][0]["msg"]
    return problem


@pytest.fixture
def small_client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'small.db'}",
        max_landscape_points=100,
        max_gradient_field_points=20,
        max_critical_point_starts=50,
        max_critical_points=3,
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


# -- landscape ----------------------------------------------------------------------------------


def test_landscape_rows_follow_y(client: TestClient) -> None:
    body = {"loss": expression("x + 10*y^2"), "bounds": [[-1, 2], [0, 1]], "resolution": [4, 3]}
    response = client.post("/v1/landscape", json=body)
    assert response.status_code == 200
    answer = strict_json(response)
    assert answer["variables"] == ["x", "y"]
    assert answer["x"] == [-1.0, 0.0, 1.0, 2.0]
    assert answer["y"] == [0.0, 0.5, 1.0]
    assert len(answer["z"]) == 3
    for i, y in enumerate(answer["y"]):
        for j, x in enumerate(answer["x"]):
            assert answer["z"][i][j] == pytest.approx(x + 10 * y**2)
    assert answer["z_min"] == pytest.approx(-1.0)
    assert answer["z_max"] == pytest.approx(12.0)
    assert answer["center"] == [0.0, 0.0]
    assert answer["directions"] == [[1.0, 0.0], [0.0, 1.0]]
    assert answer["directions_source"] == "axes"
    assert answer["direction_eigenvalues"] is None
    assert answer["gradient"] is None


def test_landscape_with_a_gradient_field(client: TestClient) -> None:
    body = {
        "loss": {"type": "builtin", "name": "rosenbrock"},
        "bounds": [[-2, 2], [-1, 3]],
        "resolution": [400, 400],
        "gradient": {"resolution": [5, 4]},
    }
    response = client.post("/v1/landscape", json=body)
    assert response.status_code == 200
    answer = strict_json(response)
    z = np.array(answer["z"])
    assert z.shape == (400, 400)
    assert z[0, 0] == pytest.approx(9 + 100 * 25)
    field = answer["gradient"]
    assert len(field["x"]) == 5
    assert len(field["y"]) == 4
    x, y = field["x"][1], field["y"][2]
    assert field["gx"][2][1] == pytest.approx(-2 * (1 - x) - 400 * x * (y - x * x))
    assert field["gy"][2][1] == pytest.approx(200 * (y - x * x))


def test_non_finite_values_are_null(client: TestClient) -> None:
    body = {
        "loss": expression("log(x) + exp(1000*y)"),
        "bounds": [[-1, 1], [0, 1]],
        "resolution": [3, 2],
        "gradient": {"resolution": [3, 2]},
    }
    response = client.post("/v1/landscape", json=body)
    assert response.status_code == 200
    answer = strict_json(response)
    assert answer["z"] == [[None, None, 1.0], [None, None, None]]
    assert answer["z_min"] == answer["z_max"] == 1.0
    assert answer["gradient"]["gx"][1] == [None, None, None]
    assert "null" in response.text


def test_all_non_finite_gives_null_extremes(client: TestClient) -> None:
    body = {"loss": expression("log(-x*x - y*y - 1)"), "bounds": [[-1, 1], [-1, 1]]}
    answer = strict_json(client.post("/v1/landscape", json=body))
    assert answer["z_min"] is None
    assert answer["z_max"] is None
    assert len(answer["x"]) == len(answer["y"]) == 100


def test_plane_through_a_center_with_given_directions(client: TestClient) -> None:
    body = {
        "loss": expression("x^2 + 2*y^2 + 3*z^2 + x*y*z"),
        "bounds": [[-1, 1], [-2, 2]],
        "resolution": [3, 5],
        "center": [1, 2, 3],
        "directions": [[2, 0, 0], [1, 1, 0]],
    }
    response = client.post("/v1/landscape", json=body)
    assert response.status_code == 200
    answer = strict_json(response)
    assert answer["variables"] == ["x", "y", "z"]
    assert answer["directions_source"] == "given"
    np.testing.assert_allclose(answer["directions"], [[1, 0, 0], [0, 1, 0]], atol=1e-15)
    assert answer["center"] == [1.0, 2.0, 3.0]
    for i, y in enumerate(answer["y"]):
        for j, x in enumerate(answer["x"]):
            px, py, pz = 1 + x, 2 + y, 3.0
            expected = px**2 + 2 * py**2 + 3 * pz**2 + px * py * pz
            assert answer["z"][i][j] == pytest.approx(expected)


def test_random_directions_are_seeded(client: TestClient) -> None:
    body = {
        "loss": {"type": "builtin", "name": "rastrigin", "dim": 6},
        "bounds": [[-1, 1], [-1, 1]],
        "resolution": [4, 4],
        "center": [0.5] * 6,
        "directions": {"type": "random", "seed": 3},
    }
    first = strict_json(client.post("/v1/landscape", json=body))
    second = strict_json(client.post("/v1/landscape", json=body))
    other = strict_json(
        client.post("/v1/landscape", json=body | {"directions": {"type": "random", "seed": 4}})
    )
    assert first["directions_source"] == "random"
    directions = np.array(first["directions"])
    assert directions.shape == (2, 6)
    np.testing.assert_allclose(directions @ directions.T, np.eye(2), atol=1e-14)
    assert first == second
    assert other["directions"] != first["directions"]


def test_hessian_directions(client: TestClient) -> None:
    body = {
        "loss": {"type": "quadratic", "A": [[1, 0, 0], [0, -4, 0], [0, 0, 2]]},
        "bounds": [[-1, 1], [-1, 1]],
        "resolution": [3, 3],
        "center": [0, 0, 0],
        "directions": {"type": "hessian"},
    }
    answer = strict_json(client.post("/v1/landscape", json=body))
    assert answer["directions_source"] == "hessian"
    assert answer["direction_eigenvalues"] == pytest.approx([-4.0, 2.0])
    np.testing.assert_allclose(answer["directions"], [[0, 1, 0], [0, 0, 1]], atol=1e-15)
    # f(0, x, y) = −2x² + y² on the plane.
    assert answer["z"][0][1] == pytest.approx(1.0)
    assert answer["z"][1][0] == pytest.approx(-2.0)


def test_two_variables_take_a_center_too(client: TestClient) -> None:
    body = {
        "loss": expression("x^2 + y"),
        "bounds": [[0, 1], [0, 1]],
        "resolution": [2, 2],
        "center": [1, 1],
    }
    answer = strict_json(client.post("/v1/landscape", json=body))
    assert answer["z"] == [[2.0, 5.0], [3.0, 6.0]]


@pytest.mark.parametrize(
    ("change", "loc", "fragment"),
    [
        ({"loss": expression("x^2")}, ["body", "loss"], "at least 2 variables"),
        ({"bounds": [[1, 1], [0, 1]]}, ["body", "bounds", 0], "must be below"),
        ({"bounds": [[0, 1], [2, -2]]}, ["body", "bounds", 1], "must be below"),
        ({"bounds": [[-1e308, 1e308], [0, 1]]}, ["body", "bounds", 0], "too wide"),
        ({"bounds": [[0, 1]]}, ["body", "bounds"], "at least 2"),
        ({"bounds": [[0, 1, 2], [0, 1]]}, ["body", "bounds", 0], "at most 2"),
        ({"resolution": [1, 10]}, ["body", "resolution", 0], "greater than or equal to 2"),
        ({"resolution": [10]}, ["body", "resolution"], "at least 2"),
        ({"resolution": [501, 500]}, ["body", "resolution"], "the limit is 250000"),
        ({"gradient": {"resolution": [101, 100]}}, ["body", "gradient", "resolution"], "limit"),
        ({"gradient": {"resolution": [1, 3]}}, ["body", "gradient", "resolution", 0], "equal to 2"),
        ({"center": [0, 0, 0]}, ["body", "center"], "has 3 numbers but the loss has 2 variables"),
        ({"directions": [[1, 0], [0, 0]]}, ["body", "directions", 1], "zero vector"),
        ({"directions": [[0, 0], [0, 1]]}, ["body", "directions", 0], "zero vector"),
        ({"directions": [[1, 1], [-2, -2]]}, ["body", "directions", 1], "parallel"),
        ({"directions": [[1, 0, 0], [0, 1]]}, ["body", "directions", 0], "has 3 numbers"),
        ({"directions": [[1, 0]]}, ["body", "directions"], "exactly two vectors"),
        ({"directions": [[1, 0], [0, 1], [1, 1]]}, ["body", "directions"], "exactly two vectors"),
        ({"directions": [[1, "x"], [0, 1]]}, ["body", "directions", 0, 1], "number"),
        ({"directions": {"type": "sideways"}}, ["body", "directions"], "two vectors"),
        ({"directions": 5}, ["body", "directions"], "two vectors"),
        ({"directions": {"type": "random", "seed": -1}}, ["body", "directions", "seed"], "0"),
        ({"surprise": 1}, ["body", "surprise"], "Extra inputs are not permitted"),
        ({"bounds": [[0, "NaN"], [0, 1]]}, ["body", "bounds", 0, 1], "finite"),
    ],
)  # fmt: skip
def test_landscape_refusals_name_the_field(
    client: TestClient, change: dict[str, Any], loc: list[Any], fragment: str
) -> None:
    body = {"loss": expression("x^2 + y^2"), "bounds": [[-1, 1], [-1, 1]]} | change
    refusal(client.post("/v1/landscape", json=body), loc, fragment)


def test_limits_are_limit_exceeded_problems(client: TestClient) -> None:
    body = {"loss": expression("x + y"), "bounds": [[0, 1], [0, 1]], "resolution": [1000, 1000]}
    problem = refusal(client.post("/v1/landscape", json=body), ["body", "resolution"], "1000000")
    assert problem["type"].endswith("limit-exceeded")


def test_more_variables_need_a_center(client: TestClient) -> None:
    body = {"loss": expression("x + y + z"), "bounds": [[0, 1], [0, 1]]}
    refusal(client.post("/v1/landscape", json=body), ["body", "center"], "required")


def test_hessian_directions_need_a_finite_hessian(client: TestClient) -> None:
    body = {
        "loss": expression("log(x) + y*z"),
        "bounds": [[0, 1], [0, 1]],
        "center": [0, 1, 1],
        "directions": {"type": "hessian"},
    }
    refusal(client.post("/v1/landscape", json=body), ["body", "directions"], "not finite")


def test_hessian_directions_of_huge_entries_do_not_overflow(client: TestClient) -> None:
    big = 1.5e308
    body = {
        "loss": {"type": "quadratic", "A": [[big, 0, 0], [big, -big, 0], [0, 0, 1]]},
        "bounds": [[-1e-160, 1e-160], [-1e-160, 1e-160]],
        "resolution": [3, 3],
        "center": [0, 0, 0],
        "directions": {"type": "hessian"},
    }
    answer = strict_json(client.post("/v1/landscape", json=body))
    assert answer["directions_source"] == "hessian"
    # The symmetrised A is [[b, b/2, 0], [b/2, -b, 0], [0, 0, 1]]: λ = ±b·√5/2 (and 1).
    assert answer["direction_eigenvalues"] == pytest.approx([-big / 2 * 5**0.5, big / 2 * 5**0.5])


def test_settings_limit_the_grids(small_client: TestClient) -> None:
    body = {"loss": expression("x + y"), "bounds": [[0, 1], [0, 1]], "resolution": [10, 10]}
    assert small_client.post("/v1/landscape", json=body).status_code == 200
    refusal(
        small_client.post("/v1/landscape", json=body | {"resolution": [11, 10]}),
        ["body", "resolution"],
        "the limit is 100",
    )
    refusal(
        small_client.post("/v1/landscape", json=body | {"gradient": {"resolution": [7, 3]}}),
        ["body", "gradient", "resolution"],
        "the limit is 20",
    )


# -- critical points ----------------------------------------------------------------------------


def test_himmelblau_critical_points(client: TestClient) -> None:
    body = {"loss": HIMMELBLAU, "bounds": [[-5, 5], [-5, 5]]}
    response = client.post("/v1/critical-points", json=body)
    assert response.status_code == 200
    answer = strict_json(response)
    assert answer["status"] == "complete"
    assert answer["count"] == 9
    assert answer["truncated"] is False
    assert answer["counts"] == {
        "local_minimum": 4,
        "local_maximum": 1,
        "saddle_point": 4,
        "degenerate": 0,
    }
    assert answer["variables"] == ["x", "y"]
    assert answer["resolution"] == [32, 32]
    assert answer["starts"] == 1024
    assert answer["random_starts"] == 0
    kinds = [point["classification"] for point in answer["points"]]
    assert kinds == ["local_minimum"] * 4 + ["local_maximum"] + ["saddle_point"] * 4
    assert sum(point["starts"] for point in answer["points"]) == answer["converged"]
    maximum = answer["points"][4]
    assert maximum["point"] == pytest.approx([-0.270845, -0.923039], abs=1e-6)
    assert maximum["curvature"] == "negative_definite"
    saddle = answer["points"][5]
    assert saddle["escape_direction"] is not None
    # Each point carries the /v1/analyze answer.
    analyzed = client.post("/v1/analyze", json={"loss": HIMMELBLAU, "point": saddle["point"]})
    expected = strict_json(analyzed)
    tolerances = expected.pop("tolerances")
    assert {key: saddle[key] for key in expected} == expected
    # The eigenvalue tolerance is measured against the Hessian around the point as well.
    assert saddle["tolerances"] == pytest.approx(tolerances, rel=1e-3)


def test_critical_points_of_an_expression_with_random_starts(client: TestClient) -> None:
    body = {
        "loss": expression("sin(x)*sin(y)"),
        "bounds": [[-4, 4], [-4, 4]],
        "resolution": [12, 12],
        "starts": 100,
        "seed": 5,
    }
    answer = strict_json(client.post("/v1/critical-points", json=body))
    assert answer["starts"] == 244
    assert answer["random_starts"] == 100
    assert answer["counts"] == {
        "local_minimum": 2,
        "local_maximum": 2,
        "saddle_point": 9,
        "degenerate": 0,
    }
    half = math.pi / 2
    maxima = [p["point"] for p in answer["points"] if p["classification"] == "local_maximum"]
    assert maxima == [pytest.approx([-half, -half]), pytest.approx([half, half])]


def test_degenerate_point(client: TestClient) -> None:
    body = {"loss": expression("x^4 + y^4"), "bounds": [[-1, 1], [-1, 1]], "resolution": 7}
    answer = strict_json(client.post("/v1/critical-points", json=body))
    assert answer["count"] == 1
    (point,) = answer["points"]
    assert point["classification"] == "degenerate"
    assert point["point"] == pytest.approx([0.0, 0.0], abs=1e-6)
    assert point["starts"] == 49


def test_default_starts_for_many_variables(client: TestClient) -> None:
    body = {"loss": {"type": "builtin", "name": "sphere", "dim": 7}, "bounds": [[-1, 1]] * 7}
    answer = strict_json(client.post("/v1/critical-points", json=body))
    assert answer["resolution"] is None
    assert answer["random_starts"] == 1024
    assert answer["counts"]["local_minimum"] == 1


def test_no_critical_points(client: TestClient) -> None:
    body = {"loss": expression("x + y"), "bounds": [[-1, 1], [-1, 1]]}
    answer = strict_json(client.post("/v1/critical-points", json=body))
    assert answer["count"] == 0
    assert answer["points"] == []


@pytest.mark.parametrize(
    ("change", "loc", "fragment"),
    [
        ({"bounds": [[-1, 1]]}, ["body", "bounds"], "has 1 intervals but the loss has 2 variables"),
        ({"bounds": [[-1, 1], [3, 2]]}, ["body", "bounds", 1], "must be below"),
        ({"bounds": []}, ["body", "bounds"], "at least 1"),
        ({"resolution": [3, 3, 3]}, ["body", "resolution"], "has 3 numbers"),
        ({"resolution": 0}, ["body", "resolution"], "at least 1"),
        ({"resolution": [2, 0]}, ["body", "resolution", 1], "greater than or equal to 1"),
        ({"resolution": "5"}, ["body", "resolution"], "whole number"),
        ({"resolution": 2.5}, ["body", "resolution"], "whole number"),
        ({"resolution": 101}, ["body", "resolution"], "the limit"),
        ({"resolution": [10000, 10000]}, ["body", "resolution"], "the limit"),
        ({"resolution": 50, "starts": 8000}, ["body", "starts"], "the limit is 10000"),
        ({"starts": 10001}, ["body", "starts"], "the limit is 10000"),
        ({"starts": 0}, ["body", "starts"], "greater than or equal to 1"),
        ({"iterations": 0}, ["body", "iterations"], "greater than or equal to 1"),
        ({"eigenvalue_rtol": 1}, ["body", "eigenvalue_rtol"], "less than 1"),
        ({"loss": expression("x + os.system")}, ["body", "loss", "expression"], "os"),
    ],
)  # fmt: skip
def test_critical_point_refusals_name_the_field(
    client: TestClient, change: dict[str, Any], loc: list[Any], fragment: str
) -> None:
    body = {"loss": expression("x^2 + y^2"), "bounds": [[-1, 1], [-1, 1]]} | change
    refusal(client.post("/v1/critical-points", json=body), loc, fragment)


def test_settings_limit_the_starts_and_the_answer(small_client: TestClient) -> None:
    body = {"loss": HIMMELBLAU, "bounds": [[-5, 5], [-5, 5]]}
    answer = strict_json(small_client.post("/v1/critical-points", json=body))
    # The default grid shrinks to the limit: 7×7 = 49 ≤ 50.
    assert answer["resolution"] == [7, 7]
    assert answer["count"] == 9
    assert answer["truncated"] is True
    assert len(answer["points"]) == 3
    assert [p["classification"] for p in answer["points"]] == ["local_minimum"] * 3
    assert "first 3" in answer["message"]
    refusal(
        small_client.post("/v1/critical-points", json=body | {"starts": 51}),
        ["body", "starts"],
        "the limit is 50",
    )


def test_the_request_time_limit_stops_the_search(tmp_path: Path) -> None:
    settings = Settings(store_url=f"sqlite:///{tmp_path / 't.db'}", request_time_limit=1e-9)
    with TestClient(create_app(settings)) as slow:
        body = {"loss": HIMMELBLAU, "bounds": [[-5, 5], [-5, 5]]}
        response = slow.post("/v1/critical-points", json=body)
    assert response.status_code == 200
    answer = strict_json(response)
    assert answer["status"] == "time_limit"
    assert answer["iterations"] == 0
    assert "time limit" in answer["message"]
