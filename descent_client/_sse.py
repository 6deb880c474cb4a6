"""A Server-Sent Events decoder (the WHATWG event-stream format), fed one line at a time."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from descent_client._models import End, Event, Points


@dataclass(frozen=True)
class RawEvent:
    """One dispatched event: its name (``message`` when unnamed), id, and data text."""

    event: str
    id: str | None
    data: str


class SSEDecoder:
    """Turns event-stream lines into events. ``last_id`` keeps the last ``id:`` seen (what
    ``Last-Event-ID`` should send on reconnection) and ``retry`` the last ``retry:`` in ms."""

    def __init__(self) -> None:
        self.last_id: str | None = None
        self.retry: int | None = None
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str) -> RawEvent | None:
        """Takes one line (without its end of line); returns an event when a blank line ends
        one that has data."""
        if not line:
            if not self._data:
                self._event = ""
                return None
            event = RawEvent(self._event or "message", self.last_id, "\n".join(self._data))
            self._event, self._data = "", []
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self.last_id = value
        elif name == "retry" and value.isdigit():
            self.retry = int(value)
        return None


def parse_event(raw: RawEvent) -> Event | dict[str, Any] | None:
    """A typed event for ``points`` and ``end``; the data of ``timeout``; None for others."""
    if raw.event not in ("points", "end", "timeout"):
        return None
    data = json.loads(raw.data)
    if raw.event == "points":
        return Points.from_json(data, raw.id)
    if raw.event == "end":
        return End.from_json(data)
    return dict(data)


class Resume:
    """Where an event stream is, so that a new connection carries on from there.

    The first connection asks for points ``after`` a step (the server's "now" when None); each
    reconnection sends the last event id as ``Last-Event-ID`` instead. ``delay`` is the wait
    before reconnecting (the server's ``retry:``), ``failures`` the transport failures since the
    last event."""

    def __init__(self, after: int | None, max_reconnects: int) -> None:
        self.after = after
        self.last_id: str | None = None
        self.delay = 1.0
        self.failures = 0
        self.max_reconnects = max_reconnects

    def request(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The query parameters and headers of the next connection."""
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
        if self.last_id is not None:
            headers["Last-Event-ID"] = self.last_id
            return {}, headers
        if self.after is not None:
            return {"after": self.after}, headers
        return {}, headers

    def feed(self, decoder: SSEDecoder, line: str) -> Event | str | None:
        """An event to hand out, ``"reconnect"`` when the server closed the stream on its
        time limit (reconnect at once), or None."""
        raw = decoder.feed(line)
        if decoder.retry is not None:
            self.delay = decoder.retry / 1000
        if raw is None:
            return None
        self.failures = 0
        parsed = parse_event(raw)
        if isinstance(parsed, Points):
            if raw.id is not None:
                self.last_id = raw.id
            return parsed
        if isinstance(parsed, End):
            return parsed
        if isinstance(parsed, dict):
            step = parsed.get("step")
            if step is not None:
                self.last_id = str(step)
            return "reconnect"
        return None

    def failed(self) -> bool:
        """Counts a transport failure; True when it is one too many."""
        self.failures += 1
        return self.failures > self.max_reconnects
