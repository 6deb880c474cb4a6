"""Compiling expression losses safely: symbolic work in a killable child process, plus a cache.

Building and differentiating a formula in sympy can take seconds on small but pathological
input, and sympy cannot be interrupted from another thread. So the web process only vets the
text (linear time, so syntax errors answer at once), and a child process does the sympy work
under a time limit: one child per compilation, killed if it overruns, so that killing one
never disturbs another. The parent turns the child's derivatives into NumPy code and keeps
the result in an LRU cache.

Children are forked from a forkserver that has already imported sympy: forking the
multithreaded web process itself is unsafe, and spawning a fresh interpreter per
compilation costs about a second.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future
from multiprocessing import forkserver
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Final

from core.expression import (
    DerivedExpression,
    ExpressionError,
    ExpressionLimits,
    ExpressionLoss,
    check_expression,
    derive,
    parse_expression,
)
from service.errors import InvalidSpecification, LimitExceeded

__all__ = ["ExpressionCompiler"]

_log = logging.getLogger(__name__)

_LOC: Final = ("loss", "expression")
# "__main__" too: otherwise every child re-imports the main script (pytest's, uvicorn's).
_PRELOAD: Final = ["__main__", "core.expression", "service.expressions"]
_GRACE_S: Final = 1.0

_Key = tuple[str, tuple[str, ...] | None]
_Entry = ExpressionLoss | InvalidSpecification


class _DeterministicRefusalError(Exception):
    """Carries a refusal that the same input would always earn, and so may be cached."""

    def __init__(self, refusal: InvalidSpecification) -> None:
        super().__init__(refusal.detail)
        self.refusal = refusal


def _refusal(err: ExpressionError) -> InvalidSpecification:
    return InvalidSpecification.at(("loss", err.field), str(err))


def _fresh(err: InvalidSpecification) -> InvalidSpecification:
    # A cached or shared refusal is re-raised as a new object, so that concurrent raisers
    # do not share (and overwrite) one traceback.
    return InvalidSpecification(err.detail, err.errors)


def _derive_in_child(
    text: str,
    variables: tuple[str, ...] | None,
    limits: ExpressionLimits,
    conn: Connection,
) -> None:
    """Child process body: parse and differentiate, then send one outcome to the parent."""
    outcome: tuple[str, object]
    try:
        outcome = ("ok", derive(parse_expression(text, variables, limits), limits))
    except ExpressionError as err:
        outcome = ("refused", err)
    except BaseException as err:  # reported to the parent, which logs it
        outcome = ("failed", f"{type(err).__name__}: {err}")
    try:
        try:
            conn.send(outcome)
        except Exception as err:  # e.g. a result too deeply nested to pickle
            conn.send(("failed", f"sending the result failed: {type(err).__name__}: {err}"))
    finally:
        conn.close()


class ExpressionCompiler:
    """Turns formula strings into :class:`ExpressionLoss` objects, with a time limit and cache.

    Thread-safe. Concurrent requests for the same formula share one compilation. Refusals
    found while differentiating (e.g. derivatives too large) are cached like results;
    refusals found by the in-process vetting are not (they are cheaper to recompute than to
    store), and neither are time-outs (they depend on the machine's load).
    """

    def __init__(
        self,
        limits: ExpressionLimits,
        timeout_s: float = 5.0,
        cache_size: int = 256,
        max_children: int | None = None,
        warm: bool = True,
    ) -> None:
        """``max_children`` bounds the child processes running at once (default: one per
        CPU); a compilation waits up to ``timeout_s`` for its turn, then is refused with
        :class:`LimitExceeded`. ``warm`` compiles a trivial formula in the background right
        away, so that the first request does not wait for the forkserver to import sympy
        (about a second) nor pay the first code generation."""
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        if cache_size < 0:
            raise ValueError("cache_size must be non-negative")
        self.limits = limits
        self.timeout_s = timeout_s
        self.cache_size = cache_size
        self.max_children = max_children or os.cpu_count() or 1
        # Each child may burn a CPU for timeout_s: unbounded, a burst of pathological
        # formulas would starve the whole machine.
        self._slots = threading.BoundedSemaphore(self.max_children)
        self._ctx = multiprocessing.get_context("forkserver")
        # The forkserver is shared by the whole process; the preload list only takes effect
        # if it is set before the server starts, which the next line does.
        self._ctx.set_forkserver_preload(_PRELOAD)
        forkserver.ensure_running()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._cache: OrderedDict[_Key, _Entry] = OrderedDict()
        self._pending: dict[_Key, Future[ExpressionLoss]] = {}
        self._live: set[BaseProcess] = set()
        self._closed = False
        self._hits = 0
        self._misses = 0
        self._warming: threading.Thread | None = None
        if warm:
            self._warming = threading.Thread(
                target=self._warm_up_quietly, name="expression-warm-up", daemon=True
            )
            self._warming.start()

    @property
    def hits(self) -> int:
        """Requests answered from the cache or by joining an identical compilation in flight."""
        with self._lock:
            return self._hits

    @property
    def misses(self) -> int:
        """Requests that started a compilation."""
        with self._lock:
            return self._misses

    def __enter__(self) -> ExpressionCompiler:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def warm_up(self) -> None:
        """Compile a trivial formula, so that the first real request pays no start-up costs."""
        self._compile("x**2", None)

    def _warm_up_quietly(self) -> None:
        try:
            self.warm_up()
        except Exception:  # closed meanwhile, or a real fault that requests will report
            _log.debug("warming up the expression compiler failed", exc_info=True)

    def compile(self, text: str, variables: Sequence[str] | None) -> ExpressionLoss:
        """The loss for a formula; raises :class:`InvalidSpecification` if it is refused.

        ``variables`` as in :func:`core.expression.parse_expression`. Raises
        :class:`LimitExceeded` if no child process could be started within ``timeout_s``
        (see ``max_children``), and ``RuntimeError`` once the compiler is closed.
        """
        key: _Key = (text, None if variables is None else tuple(variables))
        with self._lock:
            if self._closed:
                raise RuntimeError("the expression compiler is closed")
            entry = self._cache.get(key)
            if entry is not None:
                self._cache.move_to_end(key)
                self._hits += 1
                if isinstance(entry, InvalidSpecification):
                    raise _fresh(entry)
                return entry
            pending = self._pending.get(key)
            owner = pending is None
            if pending is None:
                pending = self._pending[key] = Future()
                self._misses += 1
            else:
                self._hits += 1
        if not owner:
            try:
                return pending.result()
            except InvalidSpecification as err:
                raise _fresh(err) from None

        try:
            loss = self._compile(key[0], key[1])
        except _DeterministicRefusalError as wrapped:
            self._finish(key, pending, wrapped.refusal, cache=True)
            raise _fresh(wrapped.refusal) from None
        except BaseException as err:
            self._finish(key, pending, err, cache=False)
            raise
        self._finish(key, pending, loss, cache=True)
        return loss

    def _finish(
        self,
        key: _Key,
        pending: Future[ExpressionLoss],
        outcome: ExpressionLoss | BaseException,
        cache: bool,
    ) -> None:
        with self._lock:
            del self._pending[key]
            if cache and self.cache_size > 0 and not self._closed:
                assert isinstance(outcome, ExpressionLoss | InvalidSpecification)
                self._cache[key] = outcome
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        if isinstance(outcome, BaseException):
            pending.set_exception(outcome)
        else:
            pending.set_result(outcome)

    def _compile(self, text: str, variables: tuple[str, ...] | None) -> ExpressionLoss:
        try:
            check_expression(text, variables, self.limits)
        except ExpressionError as err:
            raise _refusal(err) from None
        derived = self._derive(text, variables)
        try:
            return ExpressionLoss(derived)
        except RecursionError:
            raise _DeterministicRefusalError(
                InvalidSpecification.at(_LOC, "the expression is too deeply nested to compile")
            ) from None

    def _derive(self, text: str, variables: tuple[str, ...] | None) -> DerivedExpression:
        if not self._slots.acquire(timeout=self.timeout_s):
            raise LimitExceeded(
                f"too many expressions are being differentiated at once (at most "
                f"{self.max_children}); try again shortly"
            )
        try:
            return self._derive_in_slot(text, variables)
        finally:
            self._slots.release()

    def _derive_in_slot(self, text: str, variables: tuple[str, ...] | None) -> DerivedExpression:
        reader, writer = self._ctx.Pipe(duplex=False)
        process = self._ctx.Process(
            target=_derive_in_child,
            args=(text, variables, self.limits, writer),
            name="descent-derive",
            daemon=True,
        )
        outcome: object = None
        timed_out = False
        exitcode: int | None = None
        try:
            with self._lock:
                if self._closed:
                    raise RuntimeError("the expression compiler is closed")
            # Not under the lock: while the forkserver is still starting, this blocks.
            process.start()
            with self._lock:
                self._live.add(process)
                if self._closed:
                    process.terminate()
            # Without closing our copy of the writing end, a child that dies silently would
            # never produce end-of-file here.
            writer.close()
            if reader.poll(self.timeout_s):
                try:
                    outcome = reader.recv()
                except EOFError:
                    outcome = None
            else:
                timed_out = True
        finally:
            writer.close()
            reader.close()
            exitcode = self._reap(process, stop=timed_out)

        if timed_out:
            raise InvalidSpecification.at(
                _LOC,
                f"the expression took longer than {self.timeout_s:g} s to differentiate; "
                f"simplify it",
            )
        if isinstance(outcome, tuple) and len(outcome) == 2:
            status, payload = outcome
            if status == "ok" and isinstance(payload, DerivedExpression):
                return payload
            if status == "refused" and isinstance(payload, ExpressionError):
                raise _DeterministicRefusalError(_refusal(payload))
            _log.warning("differentiating %r failed in the child: %s", text, payload)
            raise InvalidSpecification.at(
                _LOC, f"the expression could not be differentiated ({payload})"
            )
        with self._lock:
            if self._closed:
                raise RuntimeError("the expression compiler was closed during compilation")
        _log.warning(
            "the child differentiating %r exited without an answer (exit code %s)",
            text,
            exitcode,
        )
        raise InvalidSpecification.at(
            _LOC, "the expression could not be differentiated (the worker process died)"
        )

    def _reap(self, process: BaseProcess, stop: bool) -> int | None:
        """Wait for a child to end (asking it to at once if ``stop``), forget it, and return
        its exit code (None if it never started)."""
        if process.pid is not None:  # started
            if not stop:
                # It has answered, or died: it is exiting by itself.
                process.join(_GRACE_S)
            if process.exitcode is None:
                process.terminate()
                process.join(_GRACE_S)
            if process.exitcode is None:
                process.kill()
                process.join()
        exitcode = process.exitcode
        with self._idle:
            self._live.discard(process)
            self._idle.notify_all()
        process.close()
        return exitcode

    def close(self) -> None:
        """End all compilations in flight, wait for their children, and empty the cache.

        Idempotent. Compilations in flight fail; later calls to :meth:`compile` raise
        ``RuntimeError``. The forkserver itself is shared by the process and stays up.
        """
        with self._idle:
            self._closed = True
            self._cache.clear()
            for process in self._live:
                if process.exitcode is None:
                    process.terminate()
            self._idle.wait_for(lambda: not self._live, timeout=4 * _GRACE_S + 1)
        if self._warming is not None and self._warming is not threading.current_thread():
            self._warming.join(4 * _GRACE_S + 1)
