"""Load: single-step session requests against a real server, per store, workers and pattern.

Run: ``.venv/bin/python -m bench.load`` (``--seconds`` per scenario, ``--clients``, ``--quick``
for a smoke run; ``--stores``, ``--workers``, ``--patterns`` pick a subset of the grid;
``--client raw`` swaps httpx for a minimal HTTP/1.1 client, to see what the server does when
the load generator costs little CPU; ``--settle`` bounds the wait for a quiet machine).

Every scenario starts a fresh ``uvicorn api.main:app`` (``tests.server``) on loopback, on a fresh
store: a SQLite file (WAL, ``synchronous=FULL``: an fsync per commit), or a fresh
``redis-server`` with ``--appendonly yes`` and ``--appendfsync everysec`` or ``always``. Then
C simulated users, each with its own ``httpx.AsyncClient`` holding one HTTP/1.1 keep-alive
connection, send ``POST /v1/sessions/{id}/step {"steps": 1}`` back to back for ``--seconds``:
each user on its own session ("own") or all on one session ("shared").

The httpx client is kept lean, since its CPU competes with the server's: a client per user
(one ``AsyncClient`` pooling C connections costs several times more CPU per request: httpcore's
pool does bookkeeping over all its connections on each request), the request built once per
user and sent again with ``client.send``, uvloop under the load generator, and the garbage
collector's long-lived heap frozen for the measured window (``gc.freeze``, as the server does
once started), so that full collections do not stall every user at once. httpcore asks
``sniffio`` which event loop runs on every request; without the package installed each ask is a
failed import that searches ``sys.path`` (about a third of the client's CPU), so the project
depends on it. The loss is the 2-D
Rosenbrock builtin with Adam and no stopping rule before ``MAX_STEPS``, so every request takes
exactly one step.

Measured: completed 2xx requests per second, p50/p99 latency as the client sees it, errors
(non-2xx answers and transport exceptions), and lost or doubled steps. After the run every
session's state and stored trajectory are read back: each acknowledged answer must name a
distinct step, the session's ``step`` (and ``version`` − 1) must equal the number of
acknowledged answers, and each acknowledged point must be stored exactly as it was answered.

The load generator shares the machine's cores with the server (and Redis): it runs in this
process, and the table reports the CPU time it used per request next to the server's and
Redis's (read from ``/proc``), and how many cores other processes kept busy meanwhile. All
figures come from one run on one machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import numpy as np
import orjson
import uvloop

from tests.server import Server, free_port

MAX_STEPS = 10_000_000
SESSION = {
    "loss": {"type": "builtin", "name": "rosenbrock"},
    "optimizer": {"name": "adam", "lr": 0.001},
    "start": [-1.2, 1.0],
    "stop": {"grad_tol": 0, "max_steps": MAX_STEPS},
}
STEP = b'{"steps": 1}'
WARMUP_REQUESTS = 3  # per user, before the clock starts (connections, thread pool, caches)
REQUEST_TIMEOUT = 30.0
PAGE = 50_000  # trajectory points per read-back request (the server's default limit is 100,000)
QUIET_CORES = 0.25  # the machine counts as quiet below this many busy cores
TARGET_RPS, TARGET_P99_MS = 1_000.0, 50.0
STORES = {"sqlite": ("SQLite", "FULL/WAL"), "redis": ("Redis", "everysec"),
          "redis-always": ("Redis", "always")}  # fmt: skip
PATTERNS = ("own", "shared")
CLIENTS = {
    "httpx": "httpx.AsyncClient per user, one keep-alive connection each",
    "raw": "hand-written HTTP/1.1 on asyncio streams, one keep-alive connection per user",
}
FAILURES = (httpx.HTTPError, OSError, EOFError, TimeoutError, ValueError, asyncio.LimitOverrunError)


@dataclass(frozen=True)
class Scenario:
    store: str  # a key of STORES
    workers: int
    pattern: str  # "own": a session per user; "shared": every user on one session
    clients: int

    @property
    def label(self) -> str:
        return f"{self.store} / {self.workers} worker(s) / {self.pattern}"


@dataclass
class Tally:
    """What the users saw: latencies of measured 2xx answers, errors, every acknowledged point."""

    loop: str = ""
    measuring: bool = False
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    anomalies: Counter[str] = field(default_factory=Counter)
    details: dict[str, str] = field(default_factory=dict)  # error kind -> the first one's text
    # session id -> (step, params, loss) of every acknowledged answer, warm-up included
    acked: dict[str, list[tuple[int, tuple[float, ...], float]]] = field(default_factory=dict)

    def answer(self, session_id: str, body: dict[str, Any], seconds: float) -> None:
        trajectory = body.get("trajectory") or {}
        steps = trajectory.get("step") or []
        if len(steps) != 1 or body.get("step") != steps[0]:
            self.anomalies["answer without exactly one new point"] += 1
        for i, step in enumerate(steps):
            point = (int(step), tuple(trajectory["params"][i]), float(trajectory["loss"][i]))
            self.acked.setdefault(session_id, []).append(point)
        if self.measuring:
            self.latencies.append(seconds)

    def error(self, kind: str, detail: str) -> None:
        kind = kind if self.measuring else f"{kind} (warm-up)"
        self.errors[kind] += 1
        self.details.setdefault(kind, detail)


@dataclass(frozen=True)
class Result:
    scenario: Scenario
    seconds: float
    ok: int
    latencies_ms: np.ndarray
    errors: Counter[str]
    error_details: dict[str, str]
    lost: int
    doubled: int
    checks: list[str]
    client_cpu: float
    server_cpu: float
    redis_cpu: float
    machine_cpu: float  # every process on the machine, this benchmark's included
    worker_split: list[float]
    loop: str
    quiet_before: float  # busy cores just before the scenario started

    @property
    def rps(self) -> float:
        return self.ok / self.seconds

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if len(self.latencies_ms) else 0.0

    @property
    def other_cores(self) -> float:
        """Cores kept busy by processes outside this benchmark (other users' work)."""
        ours = self.server_cpu + self.redis_cpu + self.client_cpu
        return max(0.0, self.machine_cpu - ours) / self.seconds

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def meets_target(self) -> bool:
        return (
            self.rps >= TARGET_RPS
            and self.percentile(99) < TARGET_P99_MS
            and self.error_count == 0
            and self.lost == 0
            and self.doubled == 0
            and not self.checks
        )


# --- processes --------------------------------------------------------------------------------


def cpu_by_process(group: int) -> dict[int, float]:
    """CPU seconds (user + system) of every live process in process group ``group``."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
        if int(fields[2]) == group:  # pgrp; utime and stime follow at 11 and 12
            found[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    return found


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy since boot (every core, every process)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def settle(limit: float) -> float:
    """Waits (at most ``limit`` s) for a second in which the machine is quiet; returns the busy
    cores of the last second measured."""
    deadline = time.monotonic() + limit
    while True:
        before = machine_busy()
        time.sleep(1.0)
        busy = machine_busy() - before
        if busy < QUIET_CORES or time.monotonic() >= deadline:
            return busy


class RedisServer:
    """``redis-server`` on a free loopback port, AOF on with the given fsync policy, no RDB."""

    def __init__(self, directory: Path, appendfsync: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server is not installed: apt-get install -y redis-server")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log = directory / "redis.log"
        command = [
            binary,
            *("--port", str(self.port), "--bind", "127.0.0.1", "--save", ""),
            *("--appendonly", "yes", "--appendfsync", appendfsync, "--dir", str(directory)),
            *("--daemonize", "no", "--logfile", str(self.log)),
        ]
        self.process = subprocess.Popen(command, start_new_session=True)
        deadline = time.monotonic() + 10.0
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start: {self._log_text()}")
            time.sleep(0.02)

    def _answers(self) -> bool:
        import redis  # noqa: PLC0415 (only the Redis scenarios need the client)

        client = redis.Redis(port=self.port, socket_timeout=1.0, socket_connect_timeout=1.0)
        try:
            return bool(client.ping())
        except redis.exceptions.RedisError:
            return False
        finally:
            client.close()

    def _log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@contextmanager
def serving(scenario: Scenario, folder: Path) -> Iterator[tuple[Server, RedisServer | None]]:
    """A fresh store and a fresh server for one scenario; both stopped afterwards."""
    redis_server = None
    if scenario.store == "sqlite":
        url = f"sqlite:///{folder / 'load.db'}"
    else:
        redis_server = RedisServer(folder, STORES[scenario.store][1])
        url = redis_server.url
    env = {
        "DESCENT_STORE_URL": url,
        "DESCENT_MAX_STEPS": str(MAX_STEPS),
        "DESCENT_MAX_SESSION_POINTS": str(MAX_STEPS + 1),
    }
    try:
        server = Server(env, scenario.workers)
        try:
            yield server, redis_server
        finally:
            server.stop()
        server.log.unlink(missing_ok=True)  # one access-log line per request: megabytes
    finally:
        if redis_server is not None:
            redis_server.stop()


# --- clients ----------------------------------------------------------------------------------


class Connection(Protocol):
    async def post(self, path: str, body: bytes) -> tuple[int, bytes]: ...

    async def aclose(self) -> None: ...


class HttpxConnection:
    """An ``httpx.AsyncClient`` limited to one keep-alive connection, sending each distinct
    request it has built before again (a user sends one request over and over)."""

    def __init__(self, url: str) -> None:
        self._client = httpx.AsyncClient(
            base_url=url,
            timeout=httpx.Timeout(REQUEST_TIMEOUT),
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            headers={"content-type": "application/json"},
        )
        self._built: dict[tuple[str, bytes], httpx.Request] = {}

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        request = self._built.get((path, body))
        if request is None:
            request = self._built[path, body] = self._client.build_request(
                "POST", path, content=body
            )
        response = await self._client.send(request)
        return response.status_code, response.content

    async def aclose(self) -> None:
        await self._client.aclose()


class RawConnection:
    """Just enough HTTP/1.1 for these requests: one keep-alive connection, bodies framed by
    Content-Length both ways (uvicorn frames these answers so), reconnecting after a failure."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                return await self._exchange(path, body)
        except BaseException:
            await self.aclose()  # a half-read answer would poison the connection
            raise

    async def _exchange(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self._host, self._port)
        reader, writer = self._streams
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        writer.write(head.encode() + body)
        await writer.drain()
        lines = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip().lower()
        if b"content-length" not in headers:
            raise ValueError("an answer without Content-Length")
        content = await reader.readexactly(int(headers[b"content-length"]))
        if headers.get(b"connection") == b"close":
            await self.aclose()
        return status, content

    async def aclose(self) -> None:
        if self._streams is not None:
            writer, self._streams = self._streams[1], None
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


# --- load -------------------------------------------------------------------------------------


async def create_session(client: httpx.AsyncClient) -> str:
    response = await client.post("/v1/sessions", json=SESSION)
    if response.status_code != 201:
        raise RuntimeError(f"POST /v1/sessions answered {response.status_code}: {response.text}")
    session_id: str = response.json()["id"]
    return session_id


async def user(
    connection: Connection, session_id: str, tally: Tally, until: float, most: int
) -> None:
    """Single steps back to back until the clock reaches ``until`` or ``most`` are sent."""
    path = f"/v1/sessions/{session_id}/step"
    for _ in range(most):
        if time.perf_counter() >= until:
            return
        began = time.perf_counter()
        try:
            status, content = await connection.post(path, STEP)
        except FAILURES as error:
            tally.error(type(error).__name__, str(error))
            continue
        elapsed = time.perf_counter() - began
        if 200 <= status < 300:
            tally.answer(session_id, orjson.loads(content), elapsed)
        else:
            tally.error(f"HTTP {status}", problem_detail(content))


def problem_detail(content: bytes) -> str:
    """The ``detail`` of a problem+json answer, else the start of the body."""
    try:
        detail = orjson.loads(content).get("detail")
    except (orjson.JSONDecodeError, AttributeError):
        detail = None
    return str(detail) if detail else content[:200].decode(errors="replace")


async def stored_points(
    client: httpx.AsyncClient, session_id: str, last: int
) -> dict[int, tuple[tuple[float, ...], float]]:
    """Every stored trajectory point of the session, by step, read a page at a time."""
    points: dict[int, tuple[tuple[float, ...], float]] = {}
    for start in range(0, last + 1, PAGE):
        response = await client.get(
            f"/v1/sessions/{session_id}/trajectory",
            params={"start": start, "end": min(start + PAGE - 1, last)},
        )
        response.raise_for_status()
        columns = orjson.loads(response.content)["trajectory"]
        for step, params, loss in zip(
            columns["step"], columns["params"], columns["loss"], strict=True
        ):
            points[int(step)] = (tuple(params), float(loss))
    return points


async def verify(client: httpx.AsyncClient, tally: Tally) -> tuple[int, int, list[str]]:
    """Lost and doubled steps over every session, and any other inconsistency found."""
    lost = doubled = 0
    checks = [f"{kind}: {n}" for kind, n in tally.anomalies.items()]
    for session_id, answers in tally.acked.items():
        response = await client.get(f"/v1/sessions/{session_id}")
        response.raise_for_status()
        state = orjson.loads(response.content)
        final, version = int(state["step"]), int(state["version"])
        steps = Counter(step for step, _, _ in answers)
        repeated = sum(n - 1 for n in steps.values())  # one step acknowledged more than once
        stored = await stored_points(client, session_id, final)
        # acknowledged, but not stored as acknowledged (or not at all)
        lost += sum(1 for step, params, loss in answers if stored.get(step) != (params, loss))
        # applied without an acknowledgement of its own (a retry applied twice, or a request
        # whose answer never arrived), or acknowledged twice
        doubled += repeated + max(0, final - len(steps))
        if version - 1 != final:
            checks.append(f"session {session_id[:8]}: version {version} after {final} steps")
        if sorted(stored) != list(range(final + 1)):
            checks.append(f"session {session_id[:8]}: stored steps are not 0..{final}")
    return lost, doubled, checks


@dataclass(frozen=True)
class Measured:
    tally: Tally
    seconds: float
    client_cpu: float
    machine_cpu: float
    cpu_by_pid: dict[int, float]
    lost: int
    doubled: int
    checks: list[str]


async def drive(
    url: str, scenario: Scenario, client: str, seconds: float, groups: Sequence[int]
) -> Measured:
    """Create the sessions, warm up, run the measured window, then read everything back."""
    loop = type(asyncio.get_running_loop())
    tally = Tally(loop=f"{loop.__module__}.{loop.__name__}")
    kind = HttpxConnection if client == "httpx" else RawConnection
    connections: list[Connection] = [kind(url) for _ in range(scenario.clients)]
    async with httpx.AsyncClient(base_url=url, timeout=REQUEST_TIMEOUT) as admin:
        try:
            if scenario.pattern == "own":
                ids = [await create_session(admin) for _ in connections]
            else:
                ids = [await create_session(admin)] * len(connections)
            pairs = list(zip(connections, ids, strict=True))
            # One user after another, so that the connections arrive one at a time: a burst of
            # connects is accepted whole by whichever worker wakes first (asyncio accepts up to
            # its backlog per wake-up), leaving the other workers idle.
            for c, s in pairs:
                await user(c, s, tally, float("inf"), WARMUP_REQUESTS)

            # As the server does after its start-up: the collector stops rescanning the
            # long-lived heap (modules, clients, and the tally of acknowledged points that
            # grows through the run), whose full collections would stall every user at once
            # and add their pause to the latencies measured.
            gc.collect()
            gc.freeze()
            tally.measuring = True
            cpu_before = [cpu_by_process(g) for g in groups]
            machine_before = machine_busy()
            client_before = time.process_time()
            began = time.perf_counter()
            until = began + seconds
            most = int(seconds * 100_000)  # a bound far above any rate this machine reaches
            users = asyncio.gather(*(user(c, s, tally, until, most) for c, s in pairs))
            await asyncio.wait_for(users, seconds + REQUEST_TIMEOUT + 10.0)
            elapsed = time.perf_counter() - began
            client_cpu = time.process_time() - client_before
            machine_cpu = machine_busy() - machine_before
            cpu_after = [cpu_by_process(g) for g in groups]
            tally.measuring = False
            gc.unfreeze()
        finally:
            for connection in connections:
                await connection.aclose()
        used = {
            pid: after - before.get(pid, 0.0)
            for before, after_all in zip(cpu_before, cpu_after, strict=True)
            for pid, after in after_all.items()
        }
        lost, doubled, checks = await verify(admin, tally)
    return Measured(tally, elapsed, client_cpu, machine_cpu, used, lost, doubled, checks)


def run_scenario(scenario: Scenario, client: str, seconds: float, settle_limit: float) -> Result:
    quiet = settle(settle_limit)
    with (
        TemporaryDirectory(prefix="descent-load-") as folder,
        serving(scenario, Path(folder)) as (server, redis_server),
    ):
        redis_pids = set() if redis_server is None else {redis_server.process.pid}
        groups = [server.process.pid, *redis_pids]
        measured = uvloop.run(drive(server.url, scenario, client, seconds, groups))
    server_cpu = {pid: cpu for pid, cpu in measured.cpu_by_pid.items() if pid not in redis_pids}
    return Result(
        scenario=scenario,
        seconds=measured.seconds,
        ok=len(measured.tally.latencies),
        latencies_ms=np.asarray(measured.tally.latencies) * 1e3,
        errors=measured.tally.errors,
        error_details=measured.tally.details,
        lost=measured.lost,
        doubled=measured.doubled,
        checks=measured.checks,
        client_cpu=measured.client_cpu,
        server_cpu=sum(server_cpu.values()),
        redis_cpu=sum(cpu for pid, cpu in measured.cpu_by_pid.items() if pid in redis_pids),
        machine_cpu=measured.machine_cpu,
        worker_split=sorted(server_cpu.values(), reverse=True)[: scenario.workers],
        loop=measured.tally.loop,
        quiet_before=quiet,
    )


# --- report -----------------------------------------------------------------------------------


def print_table(results: list[Result], client: str, seconds: float) -> None:
    cores = os.cpu_count() or 1
    print(
        f"Single-step session requests: {seconds:g} s per scenario after {WARMUP_REQUESTS} "
        f"warm-up requests per user, a fresh server and store each; client: {CLIENTS[client]}; "
        f"{cores} cores shared by the server, Redis and this load generator"
    )
    header = (
        f"{'store':<6} {'fsync':<9} {'workers':>7} {'pattern':<7} {'clients':>7} "
        f"{'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'lost/doubled':>12} "
        f"{'cpu ms/req: server':>18} {'redis':>5} {'client':>6} {'busy':>5} {'other':>5}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        s = r.scenario
        store, fsync = STORES[s.store]
        per = 1e3 / max(r.ok, 1)
        busy = (r.server_cpu + r.redis_cpu + r.client_cpu) / (r.seconds * cores)
        redis_cpu = f"{r.redis_cpu * per:>5.2f}" if s.store != "sqlite" else f"{'-':>5}"
        print(
            f"{store:<6} {fsync:<9} {s.workers:>7} {s.pattern:<7} {s.clients:>7} "
            f"{r.rps:>7.0f} {r.percentile(50):>7.1f} {r.percentile(99):>7.1f} "
            f"{r.error_count:>6} {f'{r.lost}/{r.doubled}':>12} "
            f"{r.server_cpu * per:>18.2f} {redis_cpu} {r.client_cpu * per:>6.2f} {busy:>5.0%} "
            f"{r.other_cores:>5.2f}"
        )
    print()
    for r in results:
        details = [
            f"{kind} ×{n} (first: {r.error_details.get(kind, '')!r})"
            for kind, n in r.errors.most_common()
        ] + r.checks
        if r.scenario.workers > 1 and sum(r.worker_split) > 0:
            shares = "/".join(f"{cpu / sum(r.worker_split):.0%}" for cpu in r.worker_split)
            details.append(f"CPU split between the busiest server processes {shares}")
        if r.quiet_before >= QUIET_CORES:
            details.append(f"machine not quiet at the start ({r.quiet_before:.2f} cores busy)")
        if details:
            print(f"{r.scenario.label}: {'; '.join(details)}")
    met = [r.scenario.label for r in results if r.meets_target()]
    best = max(results, key=lambda r: r.rps)
    print(
        f"\nTarget: ≥ {TARGET_RPS:,.0f} single-step requests/s with p99 < {TARGET_P99_MS:g} ms, "
        f"zero errors and zero lost/doubled steps on this {cores}-core machine."
    )
    print(f"Met by: {', '.join(met) if met else 'none'}.")
    print(
        f"Best throughput: {best.rps:,.0f} req/s ({best.scenario.label}, "
        f"p99 {best.percentile(99):.1f} ms)."
    )
    total_client = sum(r.client_cpu for r in results)
    total_wall = sum(r.seconds for r in results)
    loops = ", ".join(sorted({r.loop for r in results}))
    print(
        f"The load generator ran on the same cores: {total_client / total_wall:.0%} of one core "
        f"on average ({loops}). 'cpu ms/req' is CPU time per completed request of "
        "the server's processes (all workers), of redis-server and of this client; 'busy' is "
        "their sum over wall time × cores; 'other' is how many cores other processes on the "
        "machine kept busy meanwhile (above ~0.1 the figures are depressed by someone else's "
        "work). Latencies (of the 2xx answers) are measured in the client, so they include its "
        "own queueing."
    )
    print(
        "lost = acknowledged steps not stored as answered; doubled = steps applied without an "
        "answer of their own (or answered twice); both are checked against the stored "
        "trajectory and the final step and version of every session."
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured time per scenario")
    parser.add_argument("--clients", type=int, default=32, help="simulated users")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 s, 4 users")
    parser.add_argument("--stores", nargs="+", choices=list(STORES), default=list(STORES))
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--patterns", nargs="+", choices=PATTERNS, default=list(PATTERNS))
    parser.add_argument("--client", choices=list(CLIENTS), default="httpx")
    parser.add_argument(
        "--settle",
        type=float,
        default=30.0,
        help="most seconds to wait before each scenario for a quiet machine",
    )
    args = parser.parse_args(argv)
    seconds, clients = (1.0, 4) if args.quick else (args.seconds, args.clients)
    settle_limit = min(args.settle, 3.0) if args.quick else args.settle
    scenarios = [
        Scenario(store, workers, pattern, clients)
        for store in args.stores
        for workers in args.workers
        for pattern in args.patterns
    ]
    results = []
    for scenario in scenarios:
        result = run_scenario(scenario, args.client, seconds, settle_limit)
        print(
            f"  {scenario.label}: {result.rps:,.0f} req/s, p99 {result.percentile(99):.1f} ms, "
            f"other load {result.other_cores:.2f} cores",
            flush=True,
        )
        results.append(result)
    print()
    print_table(results, args.client, seconds)


if __name__ == "__main__":
    main()
