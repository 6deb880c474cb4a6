"""Structured JSON logs and Prometheus metrics.

``observe`` counts and times every request by route template and status and logs one JSON line
with its request id (``api.middleware.Frontline`` calls it for every HTTP request). ``/metrics``
serves the registry; with several workers set ``PROMETHEUS_MULTIPROC_DIR`` (an empty directory
per start) and the answer adds up every worker's counters.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import Scope

REQUESTS = Counter(
    "descent_http_requests_total", "HTTP requests answered.", ["method", "route", "status"]
)
LATENCY = Histogram(
    "descent_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
STEPS = Counter("descent_optimizer_steps_total", "Optimizer steps computed.", ["kind"])

logger = logging.getLogger("descent.access")
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"


class JsonFormatter(logging.Formatter):
    """One JSON object per log record, with the fields passed in ``extra``."""

    _STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        entry: dict[str, Any] = {
            "time": self.formatTime(record, _TIME_FORMAT),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry |= {k: v for k, v in vars(record).items() if k not in self._STANDARD}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # orjson: several times quicker than json.dumps, which the access log pays per request.
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stderr for the service's own loggers (idempotent)."""
    service = logging.getLogger("descent")
    if not any(isinstance(h.formatter, JsonFormatter) for h in service.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        service.addHandler(handler)
        service.propagate = False
    service.setLevel(level)


class AccessLog:
    """The access log: per request, the line ``JsonFormatter`` makes of an INFO record of
    ``descent.access`` with the request's fields, written by the service's JSON handler.

    A logging call costs a request tens of microseconds (the record, its caller lookup, the
    handler chain, the time formatting); this writes the same line for a small part of that
    when ``descent.access`` logs at INFO to the handlers ``configure_logging`` sets up, and
    goes through ``logging`` otherwise (another configuration, or a handler added since)."""

    def __init__(self) -> None:
        self._second = -1
        self._stamp = ""

    def write(self, fields: dict[str, Any]) -> None:
        """Logs one request's ``fields``."""
        if not logger.isEnabledFor(logging.INFO):
            return
        handler = self._direct_handler()
        if handler is None:
            logger.info("request", extra=fields)
            return
        line = {"time": self._time(), "level": "info", "logger": logger.name, "message": "request"}
        text = orjson.dumps(line | fields, default=str).decode() + handler.terminator
        with handler.lock or _NO_LOCK:
            handler.stream.write(text)
            handler.flush()

    @staticmethod
    def _direct_handler() -> logging.StreamHandler[Any] | None:
        """The one handler the line would reach, if it is the JSON stream handler."""
        if logger.handlers or not logger.propagate or logger.filters:
            return None
        parent = logger.parent
        if parent is None or parent.filters or len(parent.handlers) != 1:
            return None
        handler = parent.handlers[0]
        if (
            type(handler) is not logging.StreamHandler
            or type(handler.formatter) is not JsonFormatter
            or handler.filters
            or handler.level > logging.INFO
        ):
            return None
        return handler

    def _time(self) -> str:
        """As ``JsonFormatter`` formats a record's time: local time to the second."""
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second, self._stamp = second, time.strftime(_TIME_FORMAT, time.localtime(now))
        return self._stamp


_NO_LOCK = contextlib.nullcontext()
access_log = AccessLog()


def observe(scope: Scope, status: int, elapsed: float) -> None:
    """Counts, times and logs one answered HTTP request."""
    route = _route_template(scope)
    method = scope["method"]
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(elapsed)
    access_log.write(
        {
            "request_id": scope["state"]["request_id"],
            "method": method,
            "path": scope["path"],
            "route": route,
            "status": status,
            "duration_ms": round(elapsed * 1000, 3),
        }
    )


def _route_template(scope: Scope) -> str:
    """The matched route's path template (bounded label values), or "unmatched".

    The router records the route it chose in the scope, which this middleware shares."""
    return str(getattr(scope.get("route"), "path", "unmatched"))


LiveReading = tuple[str, str, str, float]
"""A value read at scrape time: kind ("gauge" or "counter"), name, documentation, value."""


class _LiveCollector(Collector):
    """Values read at scrape time from the answering process."""

    def __init__(self, read: Callable[[], Iterable[LiveReading]]) -> None:
        self._read = read

    def collect(self) -> Iterable[Metric]:
        for kind, name, documentation, value in self._read():
            family = GaugeMetricFamily if kind == "gauge" else CounterMetricFamily
            yield family(name, documentation, value=value)


def metrics_text(live: Callable[[], Iterable[LiveReading]]) -> tuple[bytes, str]:
    """The Prometheus exposition of every metric, with ``live`` gauges read now."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        for collector in (REQUESTS, LATENCY, STEPS):
            registry.register(collector)
    registry.register(_LiveCollector(live))
    return generate_latest(registry), CONTENT_TYPE_LATEST
