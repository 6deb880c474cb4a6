"""``descent``: the command line of the Descent service (argparse and the client, nothing else).

Exit codes: 0 ok, 1 the service answered with an error, 2 usage error, 3 no answer (cannot
connect, connection lost, timeout), 130 interrupted. ``DESCENT_URL`` and ``DESCENT_API_KEY``
are the defaults of ``--url`` and ``--api-key``."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from descent_client._base import DEFAULT_URL
from descent_client._client import Descent, Session
from descent_client._errors import DescentConnectionError, DescentError, ValidationFailed
from descent_client._models import End, Points, SessionState, Trajectory

EXIT_OK, EXIT_SERVICE, EXIT_USAGE, EXIT_CONNECTION = 0, 1, 2, 3
EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 130, 141
PROGRESS_THRESHOLD = 2000
"""Runs of at least this many steps show a progress bar by themselves when stderr is a TTY."""
DEFAULT_RUN_STEPS = 1000
"""``--steps`` of a run with a progress bar when none is given (the service's default)."""


class UsageError(Exception):
    """A command line that cannot be turned into a request (exit code 2)."""


# -- parsing values -------------------------------------------------------------------------------


def parse_scalar(text: str) -> Any:
    """``0.9`` → 0.9, ``3`` → 3, ``true``/``false`` → bool, ``null`` → None, else the text."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("null", "none"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_vector(text: str) -> list[float]:
    """``1,1`` or ``1 1`` or ``[1, 1]`` → [1.0, 1.0]."""
    cleaned = text.strip().removeprefix("[").removesuffix("]").replace(",", " ")
    try:
        values = [float(part) for part in cleaned.split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    return values


def parse_assignment(text: str) -> tuple[str, Any]:
    """``momentum=0.9`` → ("momentum", 0.9)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, not {text!r}")
    return name.strip(), parse_scalar(value)


def parse_object(text: str, what: str) -> dict[str, Any]:
    """A JSON object given on the command line."""
    try:
        value = json.loads(text)
    except ValueError as error:
        raise UsageError(f"{what}: not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise UsageError(f"{what}: expected a JSON object")
    return value


def parse_schedule(text: str) -> dict[str, Any] | None:
    """``cosine:t_max=100,eta_min=0.001`` (or a JSON object; ``none`` for no schedule)."""
    if text.strip().startswith("{"):
        return parse_object(text, "--schedule")
    if text.strip().lower() == "none":
        return None
    kind, _, rest = text.partition(":")
    schedule: dict[str, Any] = {"type": kind.strip()}
    for part in filter(None, (p.strip() for p in rest.replace(":", ",").split(","))):
        try:
            name, value = parse_assignment(part)
        except argparse.ArgumentTypeError as error:
            raise UsageError(f"--schedule: {error}") from None
        schedule[name] = value
    return schedule


# -- the parser -----------------------------------------------------------------------------------


def _connection_options(parser: argparse.ArgumentParser, default: Any) -> None:
    """--url, --api-key, --timeout, --json: on the main parser and on every command (given
    after a command they override; ``default`` is SUPPRESS there, so they do not reset)."""
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--url",
        default=default,
        help=f"the service (default: $DESCENT_URL, else {DEFAULT_URL})",
    )
    group.add_argument("--api-key", default=default, help="API key (default: $DESCENT_API_KEY)")
    group.add_argument(
        "--timeout", type=float, default=default, help="seconds to wait for an answer (60)"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS if default is argparse.SUPPRESS else False,
        help="print the service's JSON answer",
    )


def _spec_options(parser: argparse.ArgumentParser) -> None:
    """The body of a run: loss, optimizer, start, stopping rule, schedule, recording."""
    loss = parser.add_mutually_exclusive_group(required=True)
    loss.add_argument(
        "-l",
        "--loss",
        help='a formula such as "x^2 + 3*y^2", or a JSON loss object (e.g. a dataset: '
        '\'{"type": "dataset", "model": "linear_regression", "generate": {"kind": "linear"}}\')',
    )
    loss.add_argument("--builtin", metavar="NAME", help="a builtin loss (see `descent losses`)")
    parser.add_argument("--dim", type=int, help="dimension of an n-dimensional builtin loss")
    parser.add_argument(
        "--variables", help="order of the formula's variables, e.g. x,y (default: alphabetical)"
    )
    parser.add_argument(
        "-o", "--optimizer", required=True, help="optimizer name (adam, sgd, …) or JSON object"
    )
    parser.add_argument("--lr", type=float, help="learning rate")
    parser.add_argument(
        "--opt",
        action="append",
        type=parse_assignment,
        default=[],
        metavar="NAME=VALUE",
        help="another hyperparameter, e.g. --opt momentum=0.9 (repeatable)",
    )
    parser.add_argument(
        "-s",
        "--start",
        type=parse_vector,
        help="start point, e.g. 1,1 (negative first value: --start=-1.2,1); a dataset loss "
        "may omit it",
    )
    _stop_options(parser)
    parser.add_argument(
        "--schedule",
        type=parse_schedule,
        metavar="TYPE[:K=V,...]",
        help="learning-rate schedule, e.g. cosine:t_max=100 or step:step_size=50,gamma=0.5",
    )
    parser.add_argument("--every", type=int, help="keep every k-th point of the trajectory")


def _stop_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", "--steps", type=int, help="most steps (stop.max_steps)")
    parser.add_argument("--epochs", type=int, help="most passes over a dataset (stop.max_epochs)")
    parser.add_argument("--grad-tol", type=float, help="converged once ‖∇f‖ ≤ this (0: off)")
    parser.add_argument("--loss-tol", type=float, help="converged once |Δf| ≤ this")
    parser.add_argument("--time-limit", type=float, help="seconds of computation allowed")


def build_parser() -> argparse.ArgumentParser:
    """The ``descent`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="descent",
        description="Gradient-based optimization as a service, from the command line.",
        epilog="Exit codes: 0 ok, 1 service error, 2 usage error, 3 cannot connect.",
    )
    _connection_options(parser, None)
    common = argparse.ArgumentParser(add_help=False)
    _connection_options(common, argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser(
        "run", parents=[common], help="run an optimizer and print its trajectory"
    )
    _spec_options(run)
    run.add_argument("--rows", type=int, default=20, help="rows of the table (default 20)")
    run.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar on stderr (default: for long runs when stderr is a terminal)",
    )
    run.set_defaults(handler=cmd_run)

    analyze = commands.add_parser(
        "analyze", parents=[common], help="gradient, Hessian and classification at a point"
    )
    loss = analyze.add_mutually_exclusive_group(required=True)
    loss.add_argument("-l", "--loss", help="a formula or a JSON loss object")
    loss.add_argument("--builtin", metavar="NAME", help="a builtin loss")
    analyze.add_argument("--dim", type=int, help="dimension of an n-dimensional builtin loss")
    analyze.add_argument("--variables", help="order of the formula's variables, e.g. x,y")
    analyze.add_argument("-p", "--point", type=parse_vector, required=True, help="e.g. 0,0")
    analyze.add_argument("--gradient-tol", type=float, help="zero-gradient tolerance")
    analyze.add_argument("--eigenvalue-rtol", type=float, help="zero-eigenvalue tolerance")
    analyze.set_defaults(handler=cmd_analyze)

    for name, handler, text in (
        ("losses", cmd_losses, "list the builtin losses"),
        ("optimizers", cmd_optimizers, "list the optimizers and their hyperparameters"),
        ("examples", cmd_examples, "list the ready-made lessons"),
    ):
        commands.add_parser(name, parents=[common], help=text).set_defaults(handler=handler)

    session = commands.add_parser(
        "session", aliases=["s"], parents=[common], help="create, step, show, delete sessions"
    )
    actions = session.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser(
        "create", aliases=["new"], parents=[common], help="create a session at step 0"
    )
    _spec_options(create)
    create.set_defaults(handler=cmd_session_create)
    step = actions.add_parser("step", parents=[common], help="take steps")
    step.add_argument("id")
    step.add_argument("-n", "--steps", type=int, default=1, help="how many (default 1)")
    step.add_argument("--rows", type=int, default=20, help="rows of the table (default 20)")
    step.set_defaults(handler=cmd_session_step)
    run_session = actions.add_parser(
        "run", parents=[common], help="step until the stopping rule (or --max-steps)"
    )
    run_session.add_argument("id")
    run_session.add_argument("--max-steps", type=int, help="most steps this request takes")
    run_session.add_argument("--chunk", type=int, help="steps per commit (events)")
    run_session.set_defaults(handler=cmd_session_run)
    show = actions.add_parser("show", aliases=["get"], parents=[common], help="current state")
    show.add_argument("id")
    show.add_argument("-t", "--trajectory", action="store_true", help="print the trajectory too")
    show.add_argument("--rows", type=int, default=20, help="rows of the table (default 20)")
    show.set_defaults(handler=cmd_session_show)
    listing = actions.add_parser("list", aliases=["ls"], parents=[common], help="every session")
    listing.set_defaults(handler=cmd_session_list)
    patch = actions.add_parser("patch", parents=[common], help="change the steps to come")
    patch.add_argument("id")
    patch.add_argument("--lr", type=float, help="learning rate")
    patch.add_argument(
        "--opt", action="append", type=parse_assignment, default=[], metavar="NAME=VALUE"
    )
    _stop_options(patch)
    patch.add_argument("--schedule", type=parse_schedule, default=argparse.SUPPRESS,
                       metavar="TYPE[:K=V,...]|none")  # fmt: skip
    patch.set_defaults(handler=cmd_session_patch)
    reset = actions.add_parser("reset", parents=[common], help="back to step 0")
    reset.add_argument("id")
    reset.add_argument("-s", "--start", type=parse_vector, help="a new start point")
    reset.set_defaults(handler=cmd_session_reset)
    delete = actions.add_parser("delete", aliases=["rm"], parents=[common], help="delete it")
    delete.add_argument("id")
    delete.set_defaults(handler=cmd_session_delete)

    watch = commands.add_parser(
        "watch", parents=[common], help="print a session's points as they are computed"
    )
    watch.add_argument("id")
    watch.add_argument("--after", type=int, help="start after this step (default: now)")
    watch.set_defaults(handler=cmd_watch)
    return parser


# -- building requests ----------------------------------------------------------------------------


def _loss(args: argparse.Namespace) -> dict[str, Any]:
    if args.builtin is not None:
        loss: dict[str, Any] = {"type": "builtin", "name": args.builtin}
        if args.dim is not None:
            loss["dim"] = args.dim
        return loss
    text: str = args.loss
    if text.strip().startswith("{"):
        return parse_object(text, "--loss")
    loss = {"type": "expression", "expression": text}
    if args.variables:
        loss["variables"] = [v.strip() for v in args.variables.split(",") if v.strip()]
    return loss


def _hyperparameters(args: argparse.Namespace) -> dict[str, Any]:
    values: dict[str, Any] = dict(args.opt)
    if args.lr is not None:
        values["lr"] = args.lr
    return values


def _stop(args: argparse.Namespace) -> dict[str, Any] | None:
    stop = {
        key: value
        for key, value in (
            ("max_steps", args.steps),
            ("max_epochs", args.epochs),
            ("grad_tol", args.grad_tol),
            ("loss_tol", args.loss_tol),
            ("time_limit", args.time_limit),
        )
        if value is not None
    }
    return stop or None


def _run_parts(args: argparse.Namespace) -> dict[str, Any]:
    """The arguments of ``Descent.run`` / ``Descent.session`` from the command line."""
    text: str = args.optimizer
    optimizer = parse_object(text, "--optimizer") if text.strip().startswith("{") else text
    parts: dict[str, Any] = {
        "loss": _loss(args),
        "optimizer": optimizer,
        "start": args.start,
        "schedule": args.schedule,
        "stop": _stop(args),
        "record": None if args.every is None else {"every": args.every},
    }
    return parts | _hyperparameters(args)


# -- printing -------------------------------------------------------------------------------------


def fmt(value: float | None) -> str:
    """A number in six significant digits."""
    return "null" if value is None else f"{value:.6g}"


def fmt_vector(values: Sequence[float | None]) -> str:
    """``[0.512, 0.064]``."""
    return "[" + ", ".join(fmt(v) for v in values) + "]"


def thin(count: int, rows: int) -> list[int]:
    """At most ``rows`` indices of ``count``, evenly spread, the first and the last included."""
    rows = max(rows, 2)
    if count <= rows:
        return list(range(count))
    return sorted({round(i * (count - 1) / (rows - 1)) for i in range(rows)})


TABLE_HEADER = f"{'step':>8}  {'loss':>13}  {'grad_norm':>11}  params"


def table_row(step: int, loss: float, grad_norm: float, params: Sequence[float]) -> str:
    """One row of a trajectory table."""
    return f"{step:>8}  {fmt(loss):>13}  {fmt(grad_norm):>11}  {fmt_vector(params)}"


def print_trajectory(trajectory: Trajectory, rows: int, out: TextIO) -> None:
    """The trajectory as a table, thinned to about ``rows`` rows."""
    print(TABLE_HEADER, file=out)
    for i in thin(len(trajectory), rows):
        print(
            table_row(
                trajectory.step[i],
                trajectory.loss[i],
                trajectory.grad_norm[i],
                trajectory.params[i],
            ),
            file=out,
        )


def describe_analysis(analysis: dict[str, Any] | None) -> str:
    """``local_minimum (positive_definite; eigenvalues 2, 6)``."""
    if analysis is None:
        return "none (the Hessian is not finite there)"
    eigenvalues = ", ".join(fmt(v) for v in analysis["eigenvalues"])
    return f"{analysis['classification']} ({analysis['curvature']}; eigenvalues {eigenvalues})"


def describe_dataset(dataset: dict[str, Any]) -> str:
    """``200 examples × 2 features, batch 32 (7 steps an epoch), epoch 3``."""
    classes = "" if dataset.get("classes") is None else f", {dataset['classes']} classes"
    return (
        f"{dataset['examples']} examples × {dataset['features']} features{classes}, "
        f"batch {dataset['batch_size']} ({dataset['steps_per_epoch']} steps an epoch), "
        f"epoch {fmt(dataset['epoch'])}"
    )


def print_run(answer: dict[str, Any], rows: int, out: TextIO) -> None:
    """A run answer: the table, the status line, the final point and the analysis."""
    print_trajectory(Trajectory.from_json(answer["trajectory"]), rows, out)
    final = answer["final"]
    print(
        f"status: {answer['status']} after {answer['steps']} steps: {answer['message']}", file=out
    )
    print(
        f"final: loss {fmt(final['loss'])}, grad_norm {fmt(final['grad_norm'])} "
        f"at {fmt_vector(final['params'])}",
        file=out,
    )
    print(f"analysis: {describe_analysis(answer['analysis'])}", file=out)
    if answer.get("dataset") is not None:
        print(f"dataset: {describe_dataset(answer['dataset'])}", file=out)


def print_state(state: SessionState, out: TextIO) -> None:
    """A session's state in two lines."""
    print(
        f"session {state.id}  version {state.version}  step {state.step}  {state.status}",
        file=out,
    )
    print(
        f"  loss {fmt(state.loss)}  grad_norm {fmt(state.grad_norm)}  "
        f"params {fmt_vector(state.params)}  ({state.message})",
        file=out,
    )


def print_json(value: Any, out: TextIO) -> None:
    """JSON, indented."""
    print(json.dumps(value, indent=2, ensure_ascii=False), file=out)


class ProgressBar:
    """``[#####.....] 4,000/10,000 steps  loss 1.2e-03`` rewritten in place on a stream."""

    def __init__(self, total: int, stream: TextIO, width: int = 30) -> None:
        self.total = max(total, 1)
        self.stream = stream
        self.width = width
        self._shown = 0

    def _write(self, text: str) -> None:
        self.stream.write("\r" + text.ljust(self._shown))
        self._shown = len(text)
        self.stream.flush()

    def update(self, step: int, loss: float) -> None:
        """Redraws the bar at ``step`` of ``total``."""
        filled = min(self.width, self.width * step // self.total)
        bar = "#" * filled + "." * (self.width - filled)
        self._write(f"[{bar}] {step:,}/{self.total:,} steps  loss {loss:.1e}")

    def finish(self, step: int, loss: float, status: str) -> None:
        """Draws the bar a last time, with the status, and ends its line."""
        self.update(step, loss)
        self.stream.write(f"  {status}\n")
        self.stream.flush()


# -- commands -------------------------------------------------------------------------------------

Out = tuple[TextIO, TextIO]


def _wants_progress(args: argparse.Namespace, err: TextIO) -> bool:
    if args.progress is not None:
        return bool(args.progress)
    if args.json:
        return False
    steps = args.steps if args.steps is not None else DEFAULT_RUN_STEPS
    return steps >= PROGRESS_THRESHOLD and err.isatty()


def cmd_run(client: Descent, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``descent run``: one run, as a table (or JSON), optionally with a progress bar."""
    parts = _run_parts(args)
    if _wants_progress(args, err):
        answer = run_with_progress(client, parts, err)
    else:
        answer = client.run(**parts).raw
    if args.json:
        print_json(answer, out)
    else:
        print_run(answer, args.rows, out)
    return EXIT_OK


def run_with_progress(client: Descent, parts: dict[str, Any], err: TextIO) -> dict[str, Any]:
    """The answer of a run, computed in a session stepped in chunks while a progress bar is
    drawn on ``err``; the session is deleted afterwards. Sessions resume exactly, so the
    answer equals ``POST /v1/runs``'s for the same body."""
    stop = dict(parts.get("stop") or {})
    total = int(stop.setdefault("max_steps", DEFAULT_RUN_STEPS))
    session = client.session(**(parts | {"stop": stop}))
    try:
        bar = ProgressBar(total, err)
        bar.update(0, session.state.loss)
        chunk = max(1, min(10_000, math.ceil(total / 50)))
        while session.state.status == "ready":
            ran = session.run(max_steps=chunk, chunk=chunk)
            bar.update(ran.step, ran.loss)
        state = session.state
        bar.finish(state.step, state.loss, state.status)
        every = (parts.get("record") or {}).get("every", 1)
        trajectory = session.trajectory(every=every).trajectory
        try:
            analysis: dict[str, Any] | None = client.analyze(parts["loss"], state.params).raw
        except ValidationFailed:
            analysis = None
        return {
            "status": state.status,
            "message": state.message,
            "steps": state.step,
            "variables": state.variables,
            "trajectory": trajectory.raw,
            "final": {
                "params": state.params,
                "loss": state.loss,
                "grad": state.grad,
                "grad_norm": state.grad_norm,
            },
            "analysis": analysis,
            "parameter_names": state.parameter_names,
            "dataset": None if state.dataset is None else state.dataset.raw,
        }
    finally:
        with contextlib.suppress(DescentError, DescentConnectionError):
            session.delete()


def cmd_analyze(client: Descent, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``descent analyze``: the analysis of a loss at a point."""
    analysis = client.analyze(
        _loss(args),
        args.point,
        gradient_tol=args.gradient_tol,
        eigenvalue_rtol=args.eigenvalue_rtol,
    )
    if args.json:
        print_json(analysis.raw, out)
        return EXIT_OK
    print(f"classification: {analysis.classification} ({analysis.curvature})", file=out)
    print(f"value: {fmt(analysis.value)}", file=out)
    print(f"gradient: {fmt_vector(analysis.gradient)}  (norm {fmt(analysis.gradient_norm)})",
          file=out)  # fmt: skip
    print(f"eigenvalues: {fmt_vector(analysis.eigenvalues)}", file=out)
    if analysis.escape_direction is not None:
        print(f"escape_direction: {fmt_vector(analysis.escape_direction)}", file=out)
    if analysis.condition_number is not None:
        print(f"condition_number: {fmt(analysis.condition_number)}", file=out)
    if analysis.stability_bound is not None:
        print(f"stability_bound: {fmt(analysis.stability_bound)}", file=out)
    if analysis.optimal_momentum is not None:
        momentum = analysis.optimal_momentum
        print(f"optimal_momentum: lr {fmt(momentum.lr)}, momentum {fmt(momentum.momentum)}",
              file=out)  # fmt: skip
    return EXIT_OK


def cmd_losses(client: Descent, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``descent losses``."""
    losses = client.losses()
    if args.json:
        print_json([loss.raw for loss in losses], out)
        return EXIT_OK
    width = max(len(loss.name) for loss in losses)
    for loss in losses:
        print(f"{loss.name:<{width}}  {loss.expression}", file=out)
    return EXIT_OK


def cmd_optimizers(client: Descent, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``descent optimizers``."""
    optimizers = client.optimizers()
    if args.json:
        print_json([o.raw for o in optimizers], out)
        return EXIT_OK
    width = max(len(o.name) for o in optimizers)
    for optimizer in optimizers:
        defaults = ", ".join(f"{k}={v}" for k, v in optimizer.defaults.items())
        print(f"{optimizer.name:<{width}}  {defaults}", file=out)
    return EXIT_OK


def cmd_examples(client: Descent, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``descent examples``."""
    examples = client.examples()
    if args.json:
        print_json([e.raw for e in examples], out)
        return EXIT_OK
    width = max(len(e.id) for e in examples)
    for example in examples:
        print(f"{example.id:<{width}}  {example.endpoint:<14}  {example.title}", file=out)
    return EXIT_OK


def cmd_session_create(client: Descent, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``descent session create``."""
    session = client.session(**_run_parts(args))
    if args.json:
        print_json(session.state.raw, out)
    else:
        print_state(session.state, out)
    return EXIT_OK


def _session(client: Descent, args: argparse.Namespace) -> Session:
    return client.get_session(args.id)


def cmd_session_step(client: Descent, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``descent session step ID -n N``."""
    session = _session(client, args)
    result = session.step(args.steps)
    if args.json:
        print_json(result.raw, out)
        return EXIT_OK
    print_trajectory(result.trajectory, args.rows, out)
    print_state(result, out)
    return EXIT_OK


def cmd_session_run(client: Descent, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``descent session run ID``."""
    result = _session(client, args).run(args.max_steps, args.chunk)
    if args.json:
        print_json(result.raw, out)
        return EXIT_OK
    print(f"took {result.steps_taken} steps", file=out)
    print_state(result, out)
    return EXIT_OK


def cmd_session_show(client: Descent, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``descent session show ID [--trajectory]``."""
    session = _session(client, args)
    trajectory = session.trajectory() if args.trajectory else None
    if args.json:
        body = session.state.raw
        if trajectory is not None:
            body = body | {"trajectory": trajectory.trajectory.raw}
        print_json(body, out)
        return EXIT_OK
    if trajectory is not None:
        print_trajectory(trajectory.trajectory, args.rows, out)
    print_state(session.state, out)
    config = session.state.config
    print(f"  loss {json.dumps(config['loss'])}", file=out)
    print(f"  optimizer {json.dumps(config['optimizer'])}", file=out)
    if config.get("schedule") is not None:
        print(f"  schedule {json.dumps(config['schedule'])}", file=out)
    return EXIT_OK


def cmd_session_list(client: Descent, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``descent session list``."""
    sessions = list(client.sessions(page_size=200))
    if args.json:
        print_json([s.state.raw for s in sessions], out)
        return EXIT_OK
    print(f"{'id':<32}  {'step':>8}  {'status':<10}  {'loss':>13}  updated_at", file=out)
    for session in sessions:
        state = session.state
        print(
            f"{state.id:<32}  {state.step:>8}  {state.status:<10}  {fmt(state.loss):>13}  "
            f"{state.updated_at}",
            file=out,
        )
    return EXIT_OK


def cmd_session_patch(client: Descent, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``descent session patch ID --lr 0.01 --steps 5000``."""
    session = _session(client, args)
    options: dict[str, Any] = {"stop": _stop(args)}
    if "schedule" in args:
        options["schedule"] = args.schedule
    state = session.patch(**options, **_hyperparameters(args))
    if args.json:
        print_json(state.raw, out)
    else:
        print_state(state, out)
    return EXIT_OK


def cmd_session_reset(client: Descent, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``descent session reset ID [--start 1,1]``."""
    state = _session(client, args).reset(args.start)
    if args.json:
        print_json(state.raw, out)
    else:
        print_state(state, out)
    return EXIT_OK


def cmd_session_delete(client: Descent, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``descent session delete ID``."""
    client.request("DELETE", f"/v1/sessions/{args.id}")
    if not args.json:
        print(f"deleted session {args.id}", file=out)
    return EXIT_OK


def cmd_watch(client: Descent, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``descent watch ID``: points as they are stored, then the final status."""
    session = _session(client, args)
    if not args.json:
        print(TABLE_HEADER, file=out, flush=True)
    for event in session.events(after=args.after):
        if args.json:
            print(json.dumps({"event": "points" if isinstance(event, Points) else "end"}
                             | event.raw), file=out, flush=True)  # fmt: skip
        elif isinstance(event, Points):
            for i in range(len(event)):
                print(table_row(event.step[i], event.loss[i], event.grad_norm[i],
                                event.params[i]), file=out)  # fmt: skip
            out.flush()
        elif isinstance(event, End):
            message = f": {event.message}" if event.message else ""
            print(f"{event.status} at step {event.step}{message}", file=out, flush=True)
    return EXIT_OK


Handler = Callable[[Descent, argparse.Namespace, TextIO, TextIO], int]


def report(error: DescentError, err: TextIO) -> None:
    """A problem answer on stderr: title, status and detail, then every refused field."""
    print(f"error: {error.title} ({error.status}): {error.detail}", file=err)
    for field in error.errors:
        print(f"  {field.where}: {field.msg}", file=err)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit code."""
    out, err = sys.stdout, sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(err)
        return EXIT_USAGE
    url = args.url or os.environ.get("DESCENT_URL") or DEFAULT_URL
    try:
        with Descent(url, args.api_key, timeout=args.timeout or 60.0) as client:
            return handler(client, args, out, err)
    except UsageError as error:
        parser.print_usage(err)
        print(f"descent: error: {error}", file=err)
        return EXIT_USAGE
    except DescentError as error:
        report(error, err)
        return EXIT_SERVICE
    except DescentConnectionError as error:
        print(f"error: {error}", file=err)
        return EXIT_CONNECTION
    except KeyboardInterrupt:
        err.write("\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`descent losses | head`): stop quietly, as a shell tool does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
