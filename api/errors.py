"""The one place where errors become RFC 9457 problem+json answers."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.responses import ProblemResponse
from service.errors import (
    Conflict,
    DescentError,
    InvalidSpecification,
    NotFound,
    StoreUnavailable,
)

logger = logging.getLogger("descent.api")

_STATUS: dict[type[DescentError], int] = {
    InvalidSpecification: 422,
    NotFound: 404,
    Conflict: 409,
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


async def _domain_error(request: Request, error: Exception) -> ProblemResponse:
    assert isinstance(error, DescentError)
    errors = [{"loc": list(e.loc), "msg": e.msg} for e in error.errors] or None
    return problem(
        _status_of(error), error.detail, title=error.title, slug=error.slug, errors=errors
    )


def _location(loc: tuple[Any, ...], body: Any) -> list[Any]:
    """The JSON path of a validation error: pydantic's location without the tags it inserts for
    union members (``["body", "optimizer", "sgd", "lr"]`` → ``["body", "optimizer", "lr"]``).

    A tag is the value of the object's ``type`` or ``name`` discriminator; other parts are kept
    when the body has them, and the last part always (a missing field is not in the body)."""
    path: list[Any] = []
    node: Any = {"body": body}
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        tag = isinstance(node, dict) and part in (node.get("type"), node.get("name"))
        if tag and (not last or part not in node):
            continue
        present = (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        )
        if present:
            node = node[part]
        elif not last and path:
            continue
        path.append(part)
    return path


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
    errors = [{"loc": _location(tuple(d["loc"]), error.body), "msg": d["msg"]} for d in details]
    first = errors[0]
    summary = f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return problem(
        422, summary + more, title="Invalid request", slug="invalid-request", errors=errors
    )


async def _http_error(request: Request, error: Exception) -> ProblemResponse:
    assert isinstance(error, StarletteHTTPException)
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
