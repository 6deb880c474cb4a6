"""A lean path for the hottest request, ``POST /v1/sessions/{id}/step``, in front of the router.

FastAPI's request machinery (route matching over every route, the dependency graph, parameter
and body validation through its generic layers) costs a single-step request about as much CPU
as the step itself. This layer answers the plain form of that request directly and leaves
everything else to the app, so the contract keeps one definition:

- it answers only a POST to exactly ``/v1/sessions/{id}/step`` with an id the route's own
  pattern accepts, ``Content-Type: application/json``, no ``If-Match`` or ``Idempotency-Key``
  header, and a body that ``StepRequest`` (the route's model) validates; any other request,
  including every request the route would refuse, goes on to the FastAPI route unchanged (its
  body replayed), which validates it and answers with its problem+json;
- the answer is made by the route's own code (``take_steps``), and a domain error by the app's
  own mapping (``api.errors.domain_problem``); an unexpected error propagates to the same
  500 handler as the route's would;
- it sits inside ``api.middleware.Frontline``, so request ids, size limits, API keys, metrics
  and the access log apply as to any request; it records the step route in the scope, so the
  metrics count its answers under the route's template.

``tests/api/test_fastpath.py`` sends the same requests, good and bad, to the app with and
without this layer and compares status, headers and body.
"""

from __future__ import annotations

import re

from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import domain_problem
from api.routes.sessions import router, take_steps
from api.schemas import StepRequest
from service.errors import DescentError

_STEP_PATH = re.compile(r"/v1/sessions/([A-Za-z0-9_-]{1,64})/step")
"""The step route's path with the route's own constraints on the id (``SessionId``)."""
_STEP_ROUTE = next(r for r in router.routes if isinstance(r, APIRoute) and r.name == "step_session")
"""The route object the router records in the scope when it matches a step request."""
_DEFERRED_HEADERS = frozenset((b"if-match", b"idempotency-key"))


class LeanStep:
    """Answers plain single-session step requests without the router; passes on the rest."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = (
            _STEP_PATH.fullmatch(scope["path"])
            if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path")
            else None
        )
        if match is None or not self._plain(scope["headers"]):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        try:
            if message["type"] != "http.request":
                raise ValueError("the client went away")
            body = StepRequest.model_validate_json(b"".join(m.get("body", b"") for m in messages))
        except (ValidationError, ValueError):
            # The route validates it again and answers with its problem (or not at all).
            await self.app(scope, _replay(messages, receive), send)
            return
        app = scope["app"]
        scope["route"] = _STEP_ROUTE
        try:
            response = await take_steps(
                app.state.sessions,
                app.state.offload,
                app.state.settings,
                match.group(1),
                body,
                scope.get("state", {}).get("owner", ""),
            )
        except DescentError as error:
            response = domain_problem(error)
        await response(scope, receive, send)

    @staticmethod
    def _plain(headers: list[tuple[bytes, bytes]]) -> bool:
        """A JSON body and neither of the headers whose validation stays with the route."""
        content_type = None
        for name, value in headers:
            if name in _DEFERRED_HEADERS:
                return False
            if name == b"content-type" and content_type is None:  # the first, as Starlette
                content_type = value
        return (
            content_type is not None
            and content_type.split(b";", 1)[0].strip().lower() == b"application/json"
        )


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive channel that yields ``messages`` in order, then defers to ``receive``."""
    pending = list(reversed(messages))

    async def replayed() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replayed
