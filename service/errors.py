"""The domain's error hierarchy. ``api/errors.py`` maps each class to one RFC 9457 problem."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Self


@dataclass(frozen=True)
class FieldError:
    """One reason a request was refused, located by its path in the request body."""

    loc: tuple[str | int, ...]
    msg: str


class DescentError(Exception):
    """Base of every error the service reports to a client."""

    title = "Request failed"
    slug = "request-failed"

    def __init__(self, detail: str, errors: Sequence[FieldError] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = tuple(errors)


class InvalidSpecification(DescentError):
    """The request is well-formed JSON but describes something that cannot be computed."""

    title = "Invalid specification"
    slug = "invalid-specification"

    @classmethod
    def at(cls, loc: Sequence[str | int], msg: str) -> Self:
        """A refusal naming a single field."""
        where = ".".join(str(part) for part in loc)
        return cls(f"{where}: {msg}", [FieldError(tuple(loc), msg)])


class NotFound(DescentError):
    """The addressed resource does not exist (or is not visible to the caller)."""

    title = "Not found"
    slug = "not-found"


class Conflict(DescentError):
    """The resource's state forbids the operation (e.g. stepping a converged session)."""

    title = "Conflict"
    slug = "conflict"


class LimitExceeded(InvalidSpecification):
    """The request asks for more than a configured limit allows."""

    title = "Limit exceeded"
    slug = "limit-exceeded"


class StoreUnavailable(DescentError):
    """The session store does not answer."""

    title = "Session store unavailable"
    slug = "store-unavailable"


class PreconditionFailed(DescentError):
    """The client's If-Match names a version the resource has moved past."""

    title = "Precondition failed"
    slug = "precondition-failed"


class TooManySessions(DescentError):
    """The configured maximum of live sessions is reached."""

    title = "Too many sessions"
    slug = "too-many-sessions"
