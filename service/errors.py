"""The domain's error hierarchy. ``api/errors.py`` maps each class to one RFC 9457 problem."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Self


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


def json_path(loc: Sequence[str | int], document: Any) -> list[str | int]:
    """The JSON path in ``document`` of a pydantic error's location: without the tags pydantic
    inserts for union members (``["optimizer", "sgd", "lr"]`` → ``["optimizer", "lr"]``).

    A tag is the value of the object's ``type`` or ``name`` discriminator; other parts are kept
    when the document has them, and the last part always (a missing field is not in it)."""
    path: list[str | int] = []
    node: Any = document
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
