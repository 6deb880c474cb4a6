"""The client's exceptions: one per RFC 9457 problem status, and one for transport failures."""

from __future__ import annotations

import json
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import httpx

__all__ = [
    "BadRequest",
    "Conflict",
    "DescentConnectionError",
    "DescentError",
    "DescentException",
    "FieldError",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "PreconditionFailed",
    "ServerError",
    "ServiceUnavailable",
    "TooManySessions",
    "Unauthorized",
    "ValidationFailed",
]


@dataclass(frozen=True)
class FieldError:
    """One refused field of a request: its JSON path (``("body", "optimizer", "lr")``) and why."""

    loc: tuple[str | int, ...]
    msg: str

    @property
    def where(self) -> str:
        """The path joined with dots: ``body.optimizer.lr``."""
        return ".".join(str(part) for part in self.loc)

    def __str__(self) -> str:
        return f"{self.where}: {self.msg}" if self.loc else self.msg


class DescentException(Exception):
    """Base of every exception this client raises."""


class DescentError(DescentException):
    """The service answered with an error: an RFC 9457 ``application/problem+json`` document.

    ``status``, ``type``, ``title``, ``detail`` and ``errors`` are the problem's fields (``errors``
    is empty unless the request failed validation); ``raw`` is the whole document and
    ``headers`` the answer's headers."""

    def __init__(
        self,
        status: int,
        type: str,
        title: str,
        detail: str,
        errors: tuple[FieldError, ...] = (),
        raw: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.type = type
        self.title = title
        self.detail = detail
        self.errors = errors
        self.raw: dict[str, Any] = raw if raw is not None else {}
        self.headers: dict[str, str] = headers if headers is not None else {}

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status}, type={self.type!r}, "
            f"title={self.title!r}, detail={self.detail!r}, errors={self.errors!r})"
        )


class BadRequest(DescentError):
    """400: the body is not valid JSON."""


class Unauthorized(DescentError):
    """401: the server needs an API key, and none (or an unknown one) was sent."""


class NotFound(DescentError):
    """404: no such resource, or a session that is not this API key's (or was deleted)."""


class MethodNotAllowed(DescentError):
    """405: the path does not take this method."""


class Conflict(DescentError):
    """409: the session cannot do this now (it stopped, or its trajectory is full)."""


class PreconditionFailed(DescentError):
    """412: ``If-Match`` named a version the session has moved past."""


class PayloadTooLarge(DescentError):
    """413: the body is larger than the server's ``DESCENT_MAX_BODY_BYTES``."""


class ValidationFailed(DescentError):
    """422: the request is invalid or over a limit; ``errors`` names every refused field."""


class TooManySessions(DescentError):
    """429: the server holds its maximum number of sessions."""


class ServerError(DescentError):
    """5xx: the server failed (a bug on its side, or a proxy in front of it)."""


class ServiceUnavailable(ServerError):
    """503: the session store does not answer."""


class DescentConnectionError(DescentException):
    """The request got no answer: the server cannot be reached, the connection dropped, or
    it timed out. ``url`` is the address tried."""

    def __init__(self, message: str, url: str = "") -> None:
        super().__init__(message)
        self.url = url


_BY_STATUS: dict[int, type[DescentError]] = {
    400: BadRequest,
    401: Unauthorized,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    412: PreconditionFailed,
    413: PayloadTooLarge,
    422: ValidationFailed,
    429: TooManySessions,
    503: ServiceUnavailable,
}


def error_class(status: int) -> type[DescentError]:
    """The exception class for an error status."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return ServerError if status >= 500 else DescentError


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_error(response: httpx.Response) -> DescentError:
    """The exception for an error answer (whose body has been read). A body that is not a
    problem document (a proxy's HTML page) still gives one, with the text as ``detail``."""
    status = response.status_code
    body: Any = None
    try:
        body = json.loads(response.content) if response.content else None
    except ValueError:
        body = None
    headers = dict(response.headers)
    if not isinstance(body, dict):
        text = response.text.strip()[:500] if response.content else ""
        return error_class(status)(
            status, "about:blank", _phrase(status), text or _phrase(status), headers=headers
        )
    errors = tuple(
        FieldError(tuple(item.get("loc") or ()), str(item.get("msg", "")))
        for item in body.get("errors") or ()
        if isinstance(item, dict)
    )
    return error_class(status)(
        int(body.get("status", status)),
        str(body.get("type", "about:blank")),
        str(body.get("title", _phrase(status))),
        str(body.get("detail", "")),
        errors,
        body,
        headers,
    )


def connection_error(error: httpx.TransportError, url: str) -> DescentConnectionError:
    """A transport failure, named for people: what happened and where."""
    if isinstance(error, httpx.TimeoutException):
        what = f"no answer from {url} in time ({type(error).__name__})"
    elif isinstance(error, httpx.ConnectError):
        what = f"cannot connect to {url}"
    else:
        what = f"the connection to {url} failed ({type(error).__name__})"
    reason = str(error)
    return DescentConnectionError(f"{what}: {reason}" if reason else what, url)
