"""Pure ASGI middleware: the request body size limit and API-key authentication."""

from __future__ import annotations

import hashlib
import hmac

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem


class BodySizeLimit:
    """Refuses bodies over ``max_bytes`` with 413: by Content-Length up front, else while reading.

    The body is read here (it is bounded by the limit) and replayed to the app, so an oversized
    chunked upload is cut off before the app sees any of it.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        whole: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([whole], receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            413,
            f"The request body is larger than the limit of {self.max_bytes} bytes.",
            slug="body-too-large",
        )
        await response(scope, receive, send)


class HeaderSizeLimit:
    """Refuses requests whose header names and values together exceed ``max_bytes`` with 431.

    The HTTP server (uvicorn with httptools) sets no limit of its own, so this keeps oversized
    headers away from the rest of the app; a proxy in front should also bound them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = sum(len(name) + len(value) for name, value in scope["headers"])
            if size > self.max_bytes:
                response = problem(
                    431,
                    f"The request headers hold {size} bytes; the limit is {self.max_bytes}.",
                    slug="headers-too-large",
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive channel that yields ``messages`` first, then defers to ``receive``."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


class ApiKeyAuth:
    """When keys are configured, every /v1 request needs one: ``Authorization: Bearer <key>``
    or ``X-API-Key: <key>``. The caller's owner id (a hash of the key, never the key itself)
    goes into the request state for the session routes; without keys it is ""."""

    def __init__(self, app: ASGIApp, keys: list[str]) -> None:
        self.app = app
        self.owners = {key.encode(): hashlib.sha256(key.encode()).hexdigest()[:24] for key in keys}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["owner"] = ""
        if self.owners and scope["path"].startswith("/v1"):
            owner = self._owner(dict(scope["headers"]))
            if owner is None:
                response = problem(
                    401,
                    "This service needs an API key: send Authorization: Bearer <key> or "
                    "X-API-Key: <key>.",
                    slug="unauthorized",
                    headers={"WWW-Authenticate": "Bearer"},
                )
                await response(scope, receive, send)
                return
            state["owner"] = owner
        await self.app(scope, receive, send)

    def _owner(self, headers: dict[bytes, bytes]) -> str | None:
        offered = headers.get(b"x-api-key")
        authorization = headers.get(b"authorization", b"")
        if offered is None and authorization[:7].lower() == b"bearer ":
            offered = authorization[7:].strip()
        if offered is None:
            return None
        found = None
        for key, owner in self.owners.items():
            if hmac.compare_digest(key, offered):
                found = owner
        return found
