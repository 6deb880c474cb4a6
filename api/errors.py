"""The one place where errors become RFC 9457 problem+json answers."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.responses import ProblemResponse
from api.schemas import Problem
from service.errors import (
    Conflict,
    DescentError,
    InvalidSpecification,
    NotFound,
    PreconditionFailed,
    StoreUnavailable,
    TooManySessions,
    json_path,
)

logger = logging.getLogger("descent.api")

_STATUS: dict[type[DescentError], int] = {
    InvalidSpecification: 422,
    NotFound: 404,
    Conflict: 409,
    PreconditionFailed: 412,
    TooManySessions: 429,
    StoreUnavailable: 503,
}


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    slug: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> ProblemResponse:
    """A problem+json response."""
    phrase = HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "type": f"/problems/{slug or phrase.lower().replace(' ', '-')}",
        "title": title or phrase,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return ProblemResponse(body, status_code=status, headers=headers)


def _status_of(error: DescentError) -> int:
    for cls in type(error).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 400


_OUTSIDE_BODY = frozenset(("header", "query", "path"))


def _in_request(loc: tuple[str | int, ...]) -> list[str | int]:
    """A domain error's location as a validation error's: its path in the body under
    ``"body"``, unless it names a header, query or path parameter."""
    return list(loc) if loc and loc[0] in _OUTSIDE_BODY else ["body", *loc]


def _dotted(loc: Sequence[str | int]) -> str:
    return ".".join(str(part) for part in loc)


def domain_problem(error: DescentError) -> ProblemResponse:
    """The problem answer to a domain error."""
    errors = [{"loc": _in_request(e.loc), "msg": e.msg} for e in error.errors] or None
    detail = error.detail
    if errors is not None and len(error.errors) == 1:
        [field] = error.errors
        if detail == f"{_dotted(field.loc)}: {field.msg}":  # located as a validation error's
            detail = f"{_dotted(errors[0]['loc'])}: {field.msg}"
    return problem(_status_of(error), detail, title=error.title, slug=error.slug, errors=errors)


async def _domain_error(request: Request, error: Exception) -> ProblemResponse:
    assert isinstance(error, DescentError)
    return domain_problem(error)


async def _validation_error(request: Request, error: Exception) -> ProblemResponse:
    assert isinstance(error, RequestValidationError)
    details = error.errors()
    if any(d.get("type") == "json_invalid" for d in details):
        reason = next(d for d in details if d.get("type") == "json_invalid")
        where = reason.get("ctx", {}).get("error", "invalid JSON")
        return problem(
            400, f"The request body is not valid JSON: {where}", slug="malformed-json",
            title="Malformed JSON",
        )  # fmt: skip
    document = {"body": error.body}
    errors = [{"loc": json_path(tuple(d["loc"]), document), "msg": d["msg"]} for d in details]
    first = errors[0]
    summary = f"{_dotted(first['loc'])}: {first['msg']}"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return problem(
        422, summary + more, title="Invalid request", slug="invalid-request", errors=errors
    )


def _unparsable(cause: BaseException | None) -> str | None:
    """Why a body FastAPI could not parse is not JSON (it answers a bare 400 for these)."""
    if isinstance(cause, RecursionError):
        return "it is nested too deeply"
    if isinstance(cause, UnicodeDecodeError):
        return "it is not UTF-8"
    if isinstance(cause, ValueError):
        return f"a number cannot be read ({cause})"
    return None


async def _http_error(request: Request, error: Exception) -> ProblemResponse:
    assert isinstance(error, StarletteHTTPException)
    reason = _unparsable(error.__cause__) if error.status_code == 400 else None
    if reason is not None:
        return problem(
            400, f"The request body is not valid JSON: {reason}", slug="malformed-json",
            title="Malformed JSON",
        )  # fmt: skip
    detail = error.detail if isinstance(error.detail, str) else HTTPStatus(error.status_code).phrase
    if error.status_code == 404 and detail == "Not Found":
        detail = f"There is no resource at {request.url.path}."
    if error.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}."
    return problem(error.status_code, detail, headers=getattr(error, "headers", None))


async def _unexpected_error(request: Request, error: Exception) -> ProblemResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "The server failed to answer this request; it has been logged.")


def install_error_handlers(app: FastAPI) -> None:
    """Maps every error the app can raise to a problem+json answer."""
    app.add_exception_handler(DescentError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


PROBLEM_MEDIA_TYPE = "application/problem+json"
_COMMON_PROBLEMS = {
    "400": "Malformed JSON: the body does not parse",
    "401": "An API key is needed (when the server is configured with DESCENT_API_KEYS)",
    "404": "No such resource (or session, or not one of this API key's)",
    "413": "The request body is larger than DESCENT_MAX_BODY_BYTES",
    "422": "Invalid or over-limit request; `errors` names every refused field",
    "431": "The request headers are larger than DESCENT_MAX_HEADER_BYTES",
    "503": "The session store does not answer",
}


def _problem_codes(path: str, operation: dict[str, Any]) -> set[str]:
    """The problem answers an operation can give whatever its handler does: 413 and 431 for any
    request (the size limits are checked before routing), 400 and 422 for a JSON body, 422 for
    parameters, 404 for a path with ids, 401 under /v1 (API keys), 503 where sessions are
    stored."""
    codes = {"413", "431"}
    parameters = operation.get("parameters", [])
    if "requestBody" in operation:
        codes |= {"400", "422"}
    if parameters:
        codes.add("422")
    if any(parameter["in"] == "path" for parameter in parameters):
        codes.add("404")
    if path.startswith("/v1"):
        codes.add("401")
    if path.startswith("/v1/sessions"):
        codes.add("503")
    return codes


def _with_problems(schema: dict[str, Any]) -> None:
    """Declares the common problem answers of every operation and documents every error answer
    as application/problem+json with the ``Problem`` schema (replacing FastAPI's 422
    ``HTTPValidationError``, which this app never sends)."""
    for path, item in schema.get("paths", {}).items():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            for code in sorted(_problem_codes(path, operation) - set(responses)):
                responses[code] = {"description": _COMMON_PROBLEMS[code]}
            for code, response in responses.items():
                if code.isdigit() and int(code) >= 400:
                    if response.get("description") == "Validation Error":
                        response["description"] = _COMMON_PROBLEMS["422"]
                    # A fresh dict each time: shared ones would become YAML aliases.
                    ref = {"$ref": "#/components/schemas/Problem"}
                    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": ref}}
            operation["responses"] = dict(sorted(responses.items()))
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(problem_schema.pop("$defs", {}))
    components["Problem"] = problem_schema
    schema["components"]["schemas"] = dict(sorted(components.items()))


def document_problems(app: FastAPI) -> None:
    """Makes the app's OpenAPI schema document its problem answers (see ``_with_problems``)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        if "Problem" not in schema.get("components", {}).get("schemas", {}):
            _with_problems(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
