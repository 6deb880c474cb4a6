"""Hostile requests against a real server process: each gets a 4xx problem+json answer within a
second, while /healthz keeps answering (polled from the test thread while the request runs in a
background pool, so a hang or a blocked event loop would show).

Expression attacks are in test_hostile_expressions.py. Requests are written byte for byte on a
socket, so nothing is normalised or refused on the client side (dot segments, raw bytes, bad
Content-Length, chunked bodies).
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server import Server, running_server

pytestmark = pytest.mark.slow

LIMIT_BYTES = 1_000_000  # DESCENT_MAX_BODY_BYTES (default)
MAX_DIMENSION = 32  # DESCENT_MAX_DIMENSION (default)
JSON = (("Content-Type", "application/json"),)
PROBLEM_KEYS = {"type", "title", "status", "detail"}


def compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


LOSS = {"type": "expression", "expression": "x^2 + 3*y^2"}
RUN: dict[str, Any] = {"loss": LOSS, "optimizer": {"name": "sgd", "lr": 0.1}, "start": [1, 1]}
RUN_BYTES = compact(RUN)


def run_with(**changes: Any) -> bytes:
    return compact(RUN | changes)


def with_literal(body: bytes, old: bytes, new: bytes) -> bytes:
    """``body`` with ``old`` replaced by a literal JSON cannot express through json.dumps."""
    assert old in body
    return body.replace(old, new, 1)


def largest_fitting(make: Any) -> tuple[int, bytes]:
    """The largest n (by bisection) for which ``make(n)`` fits in the body limit."""
    low, high = 1, 2
    while len(make(high)) <= LIMIT_BYTES:
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if len(make(middle)) <= LIMIT_BYTES else (low, middle)
    return low, make(low)


def quadratic(n: int) -> bytes:
    zeros = [[0] * n for _ in range(n)]
    return compact(
        {"loss": {"type": "quadratic", "A": zeros}, "optimizer": {"name": "sgd"}, "start": [0] * n}
    )


def batch_of(n: int) -> bytes:
    return compact(
        {
            "loss": {"type": "expression", "expression": "x^2"},
            "optimizers": [{"name": "sgd"}],
            "starts": [[0]] * n,
        }
    )


QUADRATIC_N, QUADRATIC_BODY = largest_fitting(quadratic)
BATCH_N, BATCH_BODY = largest_fitting(batch_of)
START_N, START_BODY = largest_fitting(lambda n: run_with(start=[0] * n))


@dataclass(frozen=True)
class Hostile:
    """One request; ``{sid}`` in the target names a live session. ``expect`` is a fragment of
    the problem's detail (or its first error's msg)."""

    name: str
    status: int
    expect: str = ""
    method: str = "POST"
    target: str = "/v1/runs"
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = JSON
    chunked: bool = False
    slug: str | None = None


NESTED = 100_000
CASES = [
    # Malformed JSON
    Hostile("truncated", 400, "not valid JSON", body=RUN_BYTES[:25], slug="malformed-json"),
    Hostile("trailing garbage", 400, "not valid JSON", body=RUN_BYTES + b" xyz"),
    Hostile("two documents", 400, "not valid JSON", body=RUN_BYTES + RUN_BYTES),
    Hostile("binary", 400, "not valid JSON", body=bytes(range(256)), slug="malformed-json"),
    Hostile("BOM then binary", 400, "not valid JSON", body=b"\xef\xbb\xbf\x00\xff\xfe"),
    Hostile("invalid UTF-8", 400, "not UTF-8", body=b'{"loss": "\xff\xfe"}', slug="malformed-json"),
    Hostile("single quotes", 400, "not valid JSON", body=b"{'loss': 1}"),
    Hostile("comments", 400, "not valid JSON", body=b"// hi\n" + RUN_BYTES),
    Hostile(
        f"{NESTED:,} nested arrays",
        400,
        "nested too deeply",
        body=b"[" * NESTED + b"]" * NESTED,
        slug="malformed-json",
    ),
    Hostile(
        f"{NESTED:,} nested objects",
        400,
        "nested too deeply",
        body=b'{"a":' * NESTED + b"1" + b"}" * NESTED,
    ),
    Hostile(
        "deep nesting inside a field",
        400,
        "nested too deeply",
        body=RUN_BYTES[:-1] + b',"record":' + b"[" * NESTED + b"]" * NESTED + b"}",
    ),
    # Numbers JSON cannot carry, or no float can hold
    Hostile("NaN", 422, "finite", body=with_literal(RUN_BYTES, b"[1,1]", b"[NaN,1]")),
    Hostile("Infinity", 422, "finite", body=with_literal(RUN_BYTES, b"[1,1]", b"[1,Infinity]")),
    Hostile(
        "-Infinity in A",
        422,
        "finite",
        body=compact(
            {"loss": {"type": "quadratic", "A": [[1]]}, "optimizer": {"name": "sgd"}, "start": [0]}
        ).replace(b"[[1]]", b"[[-Infinity]]"),
    ),
    Hostile("1e400", 422, "finite", body=with_literal(RUN_BYTES, b"[1,1]", b"[1e400,1]")),
    Hostile(
        "10**1000 max_steps",
        422,
        "integers must lie within",
        body=with_literal(run_with(stop={"max_steps": 7}), b":7", b":1" + b"0" * 1000),
    ),
    Hostile(
        "10**1000 steps",
        422,
        "integers must lie within",
        target="/v1/sessions/{sid}/step",
        body=b'{"steps":1' + b"0" * 1000 + b"}",
    ),
    Hostile(
        "10**5000 (past int parsing)",
        400,
        "number cannot be read",
        target="/v1/sessions/{sid}/step",
        body=b'{"steps":1' + b"0" * 5000 + b"}",
    ),
    Hostile(
        "1e400 max_steps",
        422,
        "finite",
        body=with_literal(run_with(stop={"max_steps": 7}), b":7", b":1e400"),
    ),
    Hostile(
        "10**30 record.every",
        422,
        "integers must lie within",
        body=run_with(record={"every": 10**30}),
    ),
    Hostile(
        "10**30 schedule.t_max",
        422,
        "integers must lie within",
        body=run_with(schedule={"type": "cosine", "t_max": 10**30}),
    ),
    Hostile(
        "10**30 session warmup",
        422,
        "integers must lie within",
        target="/v1/sessions",
        body=run_with(schedule={"type": "constant", "warmup_steps": 10**30}),
    ),
    Hostile(
        "10**30 PATCH record.every",
        422,
        "integers must lie within",
        method="PATCH",
        target="/v1/sessions/{sid}",
        body=compact({"record": {"every": 10**30}}),
    ),
    Hostile(
        "10**30 critical-points seed",
        422,
        "integers must lie within",
        target="/v1/critical-points",
        body=compact({"loss": LOSS, "bounds": [[0, 1], [0, 1]], "seed": 10**30}),
    ),
    # Wrong types everywhere
    Hostile("string for a number", 422, "valid number", body=run_with(start=["one", 1])),
    Hostile("string for an integer", 422, "valid integer", body=run_with(stop={"max_steps": "x"})),
    Hostile("object for a list", 422, "valid list", body=run_with(start={"x": 1, "y": 1})),
    Hostile("list for an object", 422, "", body=run_with(optimizer=["sgd"])),
    Hostile("nulls", 422, "", body=compact({"loss": None, "optimizer": None, "start": None})),
    Hostile("null body", 422, "valid dictionary", body=b"null"),
    Hostile("array body", 422, "valid dictionary", body=b"[1,2]"),
    Hostile("string body", 422, "valid dictionary", body=b'"run"'),
    Hostile("empty body", 422, "required", body=b""),
    Hostile("float steps", 422, "integer", target="/v1/sessions/{sid}/step", body=b'{"steps":1.5}'),
    # Unknown fields
    Hostile("unknown top-level field", 422, "extra inputs", body=run_with(evil=1)),
    Hostile(
        "unknown nested field",
        422,
        "extra inputs",
        body=run_with(optimizer={"name": "sgd", "__class__": "os"}),
    ),
    Hostile("unknown optimizer", 422, "", body=run_with(optimizer={"name": "eval"})),
    # Content types
    Hostile(
        "text/plain",
        422,
        "valid dictionary",
        body=RUN_BYTES,
        headers=(("Content-Type", "text/plain"),),
    ),
    Hostile(
        "form data",
        422,
        "valid dictionary",
        body=b"loss=1&start=2",
        headers=(("Content-Type", "application/x-www-form-urlencoded"),),
    ),
    Hostile(
        "multipart",
        422,
        "valid dictionary",
        body=b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b--\r\n',
        headers=(("Content-Type", "multipart/form-data; boundary=b"),),
    ),
    Hostile("no content type", 422, "valid dictionary", body=RUN_BYTES, headers=()),
    # Paths
    Hostile(
        "dot segments", 404, "no resource", method="GET", target="/v1/sessions/../../etc/passwd"
    ),
    Hostile(
        "encoded dot segments",
        404,
        "",
        method="GET",
        target="/v1/sessions/%2e%2e/%2e%2e/etc/passwd",
    ),
    Hostile("encoded slash", 404, "", method="GET", target="/v1/sessions/a%2Fb"),
    Hostile("very long id", 422, "at most 64", method="GET", target="/v1/sessions/" + "a" * 10_000),
    Hostile("unicode id", 422, "pattern", method="GET", target="/v1/sessions/%E2%98%83"),
    Hostile("NUL id", 422, "pattern", method="GET", target="/v1/sessions/%00"),
    Hostile("broken escape", 422, "pattern", method="GET", target="/v1/sessions/%zz"),
    Hostile("unknown path", 404, "no resource", method="GET", target="/v1/sessions/{sid}/secrets"),
    Hostile(
        "absolute URI",
        404,
        "no session",
        method="GET",
        target="http://evil.example/v1/sessions/missing",
    ),
    # Methods
    Hostile("PUT", 405, "not allowed", method="PUT", body=RUN_BYTES),
    Hostile("DELETE on runs", 405, "not allowed", method="DELETE"),
    Hostile("TRACE", 405, "not allowed", method="TRACE", headers=()),
    Hostile("POST on a session", 405, "not allowed", target="/v1/sessions/{sid}", body=b"{}"),
    # Headers
    Hostile(
        "a 100 kB header",
        431,
        "limit",
        method="GET",
        target="/v1/losses",
        headers=(("X-Padding", "a" * 100_000),),
        slug="headers-too-large",
    ),
    Hostile(
        "2,000 headers",
        431,
        "limit",
        method="GET",
        target="/v1/losses",
        headers=tuple((f"X-Header-{i}", "a" * 30) for i in range(2_000)),
    ),
    Hostile(
        "Idempotency-Key too long",
        422,
        "at most 200",
        target="/v1/sessions",
        body=RUN_BYTES,
        headers=(*JSON, ("Idempotency-Key", "k" * 201)),
    ),
    Hostile(
        "Idempotency-Key not ASCII",
        422,
        "pattern",
        target="/v1/sessions",
        body=RUN_BYTES,
        headers=(*JSON, ("Idempotency-Key", "\xe9t\xe9")),
    ),
    Hostile(
        "If-Match garbage",
        422,
        "ETag",
        target="/v1/sessions/{sid}/step",
        body=b"{}",
        headers=(*JSON, ("If-Match", "garbage")),
    ),
    Hostile(
        "If-Match superscript digit",
        422,
        "ETag",
        method="DELETE",
        target="/v1/sessions/{sid}",
        headers=(("If-Match", '"\xb2"'),),
    ),
    Hostile(
        "If-Match too long",
        422,
        "at most 64",
        method="DELETE",
        target="/v1/sessions/{sid}",
        headers=(("If-Match", "1" * 65),),
    ),
    Hostile(
        "If-Match of 60 digits",
        412,
        "version",
        method="DELETE",
        target="/v1/sessions/{sid}",
        headers=(("If-Match", '"' + "9" * 60 + '"'),),
    ),
    Hostile(
        "Last-Event-ID too long",
        422,
        "at most 16",
        method="GET",
        target="/v1/sessions/{sid}/events",
        headers=(("Last-Event-ID", "9" * 30),),
    ),
    # Query parameters
    Hostile(
        "every=0",
        422,
        "greater than or equal to 1",
        method="GET",
        target="/v1/sessions/{sid}/trajectory?every=0",
    ),
    Hostile(
        "negative start",
        422,
        "greater than or equal to 0",
        method="GET",
        target="/v1/sessions/{sid}/trajectory?start=-1",
    ),
    Hostile(
        "start=10**30",
        422,
        "less than or equal",
        method="GET",
        target="/v1/sessions/{sid}/trajectory?start=" + "9" * 30,
    ),
    Hostile(
        "end=10**30",
        422,
        "less than or equal",
        method="GET",
        target="/v1/sessions/{sid}/trajectory?end=" + "9" * 30,
    ),
    Hostile(
        "every=10**30",
        422,
        "less than or equal",
        method="GET",
        target="/v1/sessions/{sid}/trajectory?every=" + "9" * 30,
    ),
    Hostile(
        "every=abc",
        422,
        "valid integer",
        method="GET",
        target="/v1/sessions/{sid}/trajectory?every=abc",
    ),
    Hostile(
        "after=10**30",
        422,
        "less than or equal",
        method="GET",
        target="/v1/sessions/{sid}/events?after=" + "9" * 30,
    ),
    Hostile(
        "limit=10**9",
        422,
        "less than or equal to 500",
        method="GET",
        target="/v1/sessions?limit=1000000000",
    ),
    Hostile(
        "limit=0", 422, "greater than or equal to 1", method="GET", target="/v1/sessions?limit=0"
    ),
    Hostile("cursor garbage", 422, "cursor", method="GET", target="/v1/sessions?cursor=%00%ff"),
    # Resource bombs and limits
    Hostile(
        f"{MAX_DIMENSION + 1} variables",
        422,
        "variables",
        target="/v1/analyze",
        body=compact(
            {
                "loss": {
                    "type": "expression",
                    "expression": "x0^2",
                    "variables": [f"x{i}" for i in range(MAX_DIMENSION + 1)],
                },
                "point": [0] * (MAX_DIMENSION + 1),
            }
        ),
    ),
    Hostile(
        f"{MAX_DIMENSION + 1}-dimensional builtin",
        422,
        "limit",
        body=run_with(
            loss={"type": "builtin", "name": "sphere", "dim": MAX_DIMENSION + 1},
            start=[0] * (MAX_DIMENSION + 1),
        ),
    ),
    Hostile(
        f"{QUADRATIC_N}×{QUADRATIC_N} quadratic (the largest that fits)",
        422,
        "limit",
        body=QUADRATIC_BODY,
    ),
    Hostile(f"a start of {START_N:,} numbers", 422, "numbers but the loss has", body=START_BODY),
    Hostile(
        f"a batch of {BATCH_N:,} starts", 422, "limit", target="/v1/runs/batch", body=BATCH_BODY
    ),
    Hostile("max_steps over the limit", 422, "limit", body=run_with(stop={"max_steps": 100_001})),
    Hostile("10,001 batch starts", 422, "limit", target="/v1/runs/batch", body=batch_of(10_001)),
    Hostile(
        "17 batch optimizers",
        422,
        "limit",
        target="/v1/runs/batch",
        body=compact({"loss": LOSS, "optimizers": [{"name": "sgd"}] * 17, "starts": [[0, 0]]}),
    ),
    Hostile(
        "step request over the limit",
        422,
        "limit",
        target="/v1/sessions/{sid}/step",
        body=compact({"steps": 10_001}),
    ),
    Hostile(
        "landscape grid over the limit",
        422,
        "limit",
        target="/v1/landscape",
        body=compact({"loss": LOSS, "bounds": [[0, 1], [0, 1]], "resolution": [501, 500]}),
    ),
    Hostile(
        "a billion critical-point cells",
        422,
        "",
        target="/v1/critical-points",
        body=compact({"loss": LOSS, "bounds": [[0, 1], [0, 1]], "resolution": 31_623}),
    ),
    Hostile(
        "an expression of 100,001 characters",
        422,
        "at most 100000",
        body=run_with(loss={"type": "expression", "expression": "x" * 100_001}),
    ),
    Hostile(
        "a start where f overflows",
        422,
        "not finite",
        body=run_with(loss={"type": "builtin", "name": "rosenbrock"}, start=[1e200, 1]),
    ),
    Hostile(
        "a batch start where f overflows",
        422,
        "not finite",
        target="/v1/runs/batch",
        body=compact(
            {
                "loss": {"type": "builtin", "name": "rosenbrock"},
                "optimizers": [{"name": "sgd"}],
                "starts": [[0, 0], [1e200, 1]],
            }
        ),
    ),
    Hostile(
        "a session start where ‖∇f‖ overflows (every component finite)",
        422,
        "not finite",
        target="/v1/sessions",
        body=run_with(loss={"type": "builtin", "name": "rosenbrock"}, start=[3.3e50, 0]),
    ),
    Hostile(
        "an analysis where ‖∇f‖ overflows",
        422,
        "not finite",
        target="/v1/analyze",
        body=compact(
            {
                "loss": {"type": "quadratic", "A": [[1, 0], [0, 1]], "b": [1e200, 1e200]},
                "point": [0, 0],
            }
        ),
    ),
    # Bodies over the limit
    Hostile(
        "a body just over the limit",
        413,
        "limit",
        body=b" " * (LIMIT_BYTES + 1),
        slug="body-too-large",
    ),
    Hostile(
        "a chunked body over the limit", 413, "limit", body=b" " * (LIMIT_BYTES + 1), chunked=True
    ),
    Hostile(
        "a body on a GET",
        413,
        "limit",
        method="GET",
        target="/v1/losses",
        body=b"x" * (2 * LIMIT_BYTES),
    ),
    Hostile(
        "a Content-Length over the limit",
        413,
        "limit",
        body=b"{}",
        headers=(*JSON, ("Content-Length", "99999999999")),
    ),
]

# Refused by the HTTP server (uvicorn) before the app sees them: a plain-text 400, not a problem.
PROTOCOL_ERRORS = [
    Hostile("unknown method", 400, method="FOO", headers=()),
    Hostile(
        "Content-Length not a number", 400, body=b"{}", headers=(*JSON, ("Content-Length", "x"))
    ),
    Hostile("negative Content-Length", 400, body=b"{}", headers=(*JSON, ("Content-Length", "-1"))),
    Hostile("a 100 kB path", 400, method="GET", target="/v1/sessions/" + "a" * 100_000),
    Hostile(
        "raw UTF-8 in the path",
        400,
        method="GET",
        target="/v1/sessions/" + "☃".encode().decode("latin-1"),
    ),
]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed: float
    problem: dict[str, Any] = field(default_factory=dict)


def request_bytes(hostile: Hostile, session_id: str) -> tuple[bytes, list[bytes]]:
    """The request head, and the body as the pieces to send."""
    target = hostile.target.replace("{sid}", session_id)
    lines = [f"{hostile.method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in hostile.headers]
    body = hostile.body
    declared = any(name.lower() == "content-length" for name, _ in hostile.headers)
    if body is not None and hostile.chunked:
        lines.append("Transfer-Encoding: chunked")
        size = 64 * 1024
        pieces = [
            b"%X\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
            for i in range(0, len(body), size)
        ] + [b"0\r\n\r\n"]
    else:
        if body is not None and not declared:
            lines.append(f"Content-Length: {len(body)}")
        pieces = [body] if body else []
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head, pieces


def exchange(port: int, hostile: Hostile, session_id: str) -> Answer:
    """Writes the request on a fresh connection and reads the answer until the server closes."""
    head, pieces = request_bytes(hostile, session_id)
    began = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(head)
            for piece in pieces:
                sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered (and closed) before the whole body was sent, as for 413
        received = bytearray()
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    elapsed = time.perf_counter() - began
    raw_head, _, body = bytes(received).partition(b"\r\n\r\n")
    status_line, *header_lines = raw_head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = body[: int(headers["content-length"])]
    answer = Answer(int(status_line.split()[1]), headers, body, elapsed)
    if headers.get("content-type") == "application/problem+json":
        answer.problem = json.loads(body)
    return answer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp: Path = tmp_path_factory.mktemp("hostile")
    with running_server({"DESCENT_STORE_URL": f"sqlite:///{tmp / 'hostile.db'}"}) as started:
        yield started


@pytest.fixture(scope="module")
def session_id(server: Server) -> str:
    created = httpx.post(f"{server.url}/v1/sessions", json=RUN, timeout=10)
    assert created.status_code == 201, created.text
    identifier: str = created.json()["id"]
    assert httpx.post(f"{server.url}/v1/sessions/{identifier}/step", json={"steps": 5}).is_success
    return identifier


def answered_while_healthy(server: Server, hostile: Hostile, session_id: str) -> Answer:
    """Sends ``hostile`` from a pool thread; /healthz must answer quickly until it is done."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(exchange, server.port, hostile, session_id)
        while True:
            began = time.perf_counter()
            health = httpx.get(f"{server.url}/healthz", timeout=2)
            assert health.status_code == 200
            assert time.perf_counter() - began < 1.0, "/healthz stalled"
            if pending.done():
                return pending.result()
            time.sleep(0.02)


@pytest.mark.parametrize("hostile", CASES, ids=[case.name for case in CASES])
def test_hostile_request_is_a_quick_problem(
    server: Server, session_id: str, hostile: Hostile
) -> None:
    answer = answered_while_healthy(server, hostile, session_id)
    assert answer.status == hostile.status, answer.body[:500]
    assert answer.headers.get("content-type") == "application/problem+json"
    problem = answer.problem
    assert set(problem) >= PROBLEM_KEYS
    assert problem["status"] == hostile.status
    if hostile.slug is not None:
        assert problem["type"] == f"/problems/{hostile.slug}"
    said = " ".join([problem["detail"], *(str(e) for e in problem.get("errors", []))])
    assert hostile.expect.lower() in said.lower()
    assert answer.elapsed < 1.0, f"took {answer.elapsed:.2f} s"


@pytest.mark.parametrize("hostile", PROTOCOL_ERRORS, ids=[c.name for c in PROTOCOL_ERRORS])
def test_requests_the_http_server_refuses(
    server: Server, session_id: str, hostile: Hostile
) -> None:
    """uvicorn refuses these itself, with a plain-text 400: the app never sees them."""
    answer = answered_while_healthy(server, hostile, session_id)
    assert answer.status == hostile.status
    assert answer.elapsed < 1.0


TOLERATED = [
    Hostile("UTF-8 byte order mark", 200, body=b"\xef\xbb\xbf" + RUN_BYTES),
    Hostile(
        "UTF-16 with a byte order mark",
        200,
        body=b"\xff\xfe" + RUN_BYTES.decode().encode("utf-16-le"),
    ),
    Hostile("a chunked body within the limit", 200, body=RUN_BYTES, chunked=True),
]


@pytest.mark.parametrize("tolerated", TOLERATED, ids=[case.name for case in TOLERATED])
def test_tolerated_encodings(server: Server, session_id: str, tolerated: Hostile) -> None:
    """RFC 8259 §8.1 lets a parser ignore a byte order mark; Python's reads UTF-16 and UTF-32
    too. A chunked body under the limit is read like any other."""
    answer = answered_while_healthy(server, tolerated, session_id)
    assert answer.status == 200
    assert json.loads(answer.body)["status"] == "converged"


QUADRATIC_ORIGIN = {"point": [0, 0]}
EXTREMES = [
    (  # gradient_tol·‖H‖ overflows: the tolerance reported is the largest float
        "/v1/analyze",
        {
            "loss": {"type": "builtin", "name": "sphere", "dim": 1},
            "point": [2e16],
            "gradient_tol": 1.4e308,
        },
        lambda answer: answer["tolerances"]["gradient"] == 1.7976931348623157e308,
    ),
    (  # Goh's α* = (2/(√λ₁ + √λₙ))² overflows: no optimal momentum, the rest is answered
        "/v1/analyze",
        {"loss": {"type": "quadratic", "A": [[1e-310, 0], [0, 1e-310]]}} | QUADRATIC_ORIGIN,
        lambda answer: answer["optimal_momentum"] is None and answer["curvature"] is not None,
    ),
    (  # a box as wide as the float range: the grid overflows, those starts are dropped
        "/v1/critical-points",
        {"loss": {"type": "quadratic", "A": [[1.0]]}, "bounds": [[0, 1.7e308]], "starts": 8},
        lambda answer: answer["status"] == "complete",
    ),
]


@pytest.mark.parametrize(("target", "body", "check"), EXTREMES)
def test_numbers_at_the_ends_of_the_float_range(
    server: Server, target: str, body: dict[str, Any], check: Any
) -> None:
    """Answers that would have held ±inf (written as null where a number is due) hold finite
    numbers or leave the derived value out."""
    answer = httpx.post(f"{server.url}{target}", json=body, timeout=5)
    assert answer.status_code == 200, answer.text
    assert check(answer.json())


def test_the_session_survives_the_barrage(server: Server, session_id: str) -> None:
    state = httpx.get(f"{server.url}/v1/sessions/{session_id}", timeout=5)
    assert state.status_code == 200
    assert state.json()["step"] == 5
    assert httpx.get(f"{server.url}/readyz", timeout=5).status_code == 200
