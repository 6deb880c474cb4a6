"""Dependencies of the route handlers, as named ``Annotated`` aliases.

Every dependency is a coroutine that only reads ``app.state``: FastAPI awaits a coroutine
dependency on the event loop, whereas a plain function would cost a thread-pool hop each.
Blocking work (the store's I/O, optimizer steps) goes to the ``Offload`` pool instead, once per
request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, ParamSpec, TypeVar

from fastapi import Depends, Request

from service.expressions import ExpressionCompiler
from service.sessions import SessionService
from service.settings import Settings
from service.stores import SessionStore

P = ParamSpec("P")
T = TypeVar("T")


class Offload:
    """Runs blocking calls on thread pools of the process's own.

    ``loop.run_in_executor`` on a plain executor costs the event loop about half of what
    Starlette's ``run_in_threadpool`` (anyio's worker threads, capacity limiter and cancel
    scopes) does. Two pools: ``threads`` for work that may take long, so that a long step or
    run holds one of many threads while the others keep answering; and ``quick_threads``,
    a few, for the frequent short calls (``quick``). Python threads take turns on one
    interpreter lock: with dozens of short calls runnable at once the threads spend much of
    the CPU handing the lock over, whereas a few threads draining a queue do not (on two
    cores, single steps through 4 threads cost about a quarter less CPU than through 40)."""

    def __init__(self, threads: int = 40, quick_threads: int = 4) -> None:
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="descent")
        self._quick = ThreadPoolExecutor(quick_threads, thread_name_prefix="descent-quick")

    async def __call__(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``call(*args, **kwargs)`` on a pool thread; the caller's task waits for it."""
        return await self._run(self._pool, call, *args, **kwargs)

    async def quick(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """As calling the offload, on the pool for short calls."""
        return await self._run(self._quick, call, *args, **kwargs)

    @staticmethod
    async def _run(
        pool: ThreadPoolExecutor, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        loop = asyncio.get_running_loop()
        if kwargs:
            return await loop.run_in_executor(pool, lambda: call(*args, **kwargs))
        return await loop.run_in_executor(pool, call, *args)

    def close(self) -> None:
        """Waits for the calls under way, then stops the threads."""
        self._quick.shutdown(wait=True)
        self._pool.shutdown(wait=True)


async def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


async def get_store(request: Request) -> SessionStore:
    """The session store opened by the app's lifespan."""
    store: SessionStore = request.app.state.store
    return store


async def get_compiler(request: Request) -> ExpressionCompiler:
    """The process's expression compiler and its cache."""
    compiler: ExpressionCompiler = request.app.state.compiler
    return compiler


async def get_sessions(request: Request) -> SessionService:
    """The session use cases bound to the app's store and compiler."""
    sessions: SessionService = request.app.state.sessions
    return sessions


async def get_offload(request: Request) -> Offload:
    """The thread pool for blocking calls, started by the app's lifespan."""
    offload: Offload = request.app.state.offload
    return offload


async def get_owner(request: Request) -> str:
    """The caller's tenant: a hash of its API key, "" when keys are off."""
    owner: str = getattr(request.state, "owner", "")
    return owner


SettingsDep = Annotated[Settings, Depends(get_settings)]
OwnerDep = Annotated[str, Depends(get_owner)]
StoreDep = Annotated[SessionStore, Depends(get_store)]
CompilerDep = Annotated[ExpressionCompiler, Depends(get_compiler)]
SessionsDep = Annotated[SessionService, Depends(get_sessions)]
OffloadDep = Annotated[Offload, Depends(get_offload)]
