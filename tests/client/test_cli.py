"""The ``descent`` command line against a real server process: in-process through ``main(argv)``
and as a subprocess, with its output, exit codes and progress bar."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from descent_client.cli import main, parse_schedule, parse_vector, thin
from tests.server import ROOT, Server, free_port, running_server

pytestmark = pytest.mark.slow

KEY = "cli-test-key"
RUN = ["run", "--loss", "x^2+3*y^2", "--optimizer", "adam", "--lr", "0.1", "--start", "1,1",
       "--steps", "500"]  # fmt: skip
RUN_BODY = {
    "loss": {"type": "expression", "expression": "x^2+3*y^2"},
    "optimizer": {"name": "adam", "lr": 0.1},
    "start": [1.0, 1.0],
    "stop": {"max_steps": 500},
}
DESCENT = Path(sys.executable).parent / "descent"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder: Path = tmp_path_factory.mktemp("cli")
    env = {"DESCENT_STORE_URL": f"sqlite:///{folder / 'c.db'}", "DESCENT_API_KEYS": KEY}
    with running_server(env) as running:
        yield running


@pytest.fixture
def env(server: Server, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The server's address and key in the environment, as a user would set them."""
    monkeypatch.setenv("DESCENT_URL", server.url)
    monkeypatch.setenv("DESCENT_API_KEY", KEY)
    return os.environ | {"DESCENT_URL": server.url, "DESCENT_API_KEY": KEY}


def raw_run(server: Server) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {KEY}"}
    answer: dict[str, object] = httpx.post(
        f"{server.url}/v1/runs", json=RUN_BODY, headers=headers, timeout=30
    ).json()
    return answer


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_run_prints_a_thinned_table_the_status_and_the_analysis(
    server: Server, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, *RUN)
    assert (code, err) == (0, "")
    expected = raw_run(server)
    lines = out.splitlines()
    assert lines[0].split() == ["step", "loss", "grad_norm", "params"]
    rows = lines[1 : lines.index(next(line for line in lines if line.startswith("status:")))]
    assert len(rows) == 20
    assert rows[0].split() == ["0", "4", "6.32456", "[1,", "1]"]
    assert int(rows[-1].split()[0]) == expected["steps"]
    assert f"status: converged after {expected['steps']} steps: {expected['message']}" in lines
    final = expected["final"]
    assert isinstance(final, dict)
    assert f"final: loss {final['loss']:.6g}, grad_norm {final['grad_norm']:.6g}" in out
    assert "analysis: local_minimum (positive_definite; eigenvalues 2, 6)" in lines

    code, out, _ = cli(capsys, *RUN, "--json")
    assert code == 0
    assert json.loads(out) == expected

    options = ["--schedule", "cosine:t_max=100", "--opt", "beta2=0.99", "--grad-tol", "1e-6",
               "--every", "10", "--json"]  # fmt: skip
    code, out, _ = cli(capsys, *RUN, *options)
    assert code == 0
    body = RUN_BODY | {
        "optimizer": {"name": "adam", "lr": 0.1, "beta2": 0.99},
        "schedule": {"type": "cosine", "t_max": 100},
        "stop": {"max_steps": 500, "grad_tol": 1e-6},
        "record": {"every": 10},
    }
    headers = {"Authorization": f"Bearer {KEY}"}
    assert json.loads(out) == httpx.post(f"{server.url}/v1/runs", json=body, headers=headers).json()


def test_the_installed_command_and_the_module_run(server: Server, env: dict[str, str]) -> None:
    for command in ([str(DESCENT)], [sys.executable, "-m", "descent_client.cli"]):
        done = subprocess.run(
            [*command, *RUN], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
            check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[0].split() == ["step", "loss", "grad_norm", "params"]
        assert "status: converged" in done.stdout
        assert done.stderr == ""


def test_progress_draws_a_bar_on_stderr_and_prints_the_same_answer(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, plain, err = cli(capsys, *RUN)
    assert (code, err) == (0, "")  # stderr is not a terminal here: no bar unless asked
    code, out, bar = cli(capsys, *RUN, "--progress")
    assert code == 0
    assert out == plain
    assert bar.startswith("\r[..............................] 0/500 steps  loss 4.0e+00")
    assert "\r[###" in bar
    assert bar.rstrip().endswith("converged")
    assert bar.endswith("\n")
    # The session the bar was drawn from is gone.
    code, listing, _ = cli(capsys, "session", "list", "--json")
    assert code == 0
    assert json.loads(listing) == []


def test_a_dataset_loss_runs_without_a_start(
    server: Server, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    loss = {"type": "dataset", "model": "linear_regression", "batch_size": 16,
            "generate": {"kind": "linear", "n": 40, "seed": 3}}  # fmt: skip
    run = ["run", "--loss", json.dumps(loss), "-o", "sgd", "--lr", "0.05", "--epochs", "4",
           "--grad-tol", "0"]  # fmt: skip
    code, out, err = cli(capsys, *run)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[1].split()[0] == "0"
    assert lines[1].endswith("[0, 0, 0]")
    assert "status: max_steps after 12 steps" in out
    assert lines[-1] == "dataset: 40 examples × 2 features, batch 16 (3 steps an epoch), epoch 4"
    code, answer, _ = cli(capsys, *run, "--json")
    assert code == 0
    body = {"loss": loss, "optimizer": {"name": "sgd", "lr": 0.05},
            "stop": {"max_epochs": 4, "grad_tol": 0}}  # fmt: skip
    headers = {"Authorization": f"Bearer {KEY}"}
    expected = httpx.post(f"{server.url}/v1/runs", json=body, headers=headers, timeout=30).json()
    assert json.loads(answer) == expected
    # Through a session with a progress bar: the same answer.
    code, progressed, _ = cli(capsys, *run, "--json", "--progress", "--steps", "12")
    assert code == 0
    shown = json.loads(progressed)
    assert shown["parameter_names"] == ["w[0]", "w[1]", "b"]
    for key in ("trajectory", "final", "parameter_names", "dataset"):
        assert shown[key] == expected[key], key


def test_analyze_and_the_catalogues(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "analyze", "--loss", "x^2-y^2", "--point", "0,0")
    assert code == 0
    assert "classification: saddle_point (indefinite)" in out
    assert "eigenvalues: [-2, 2]" in out
    assert "escape_direction: [0, 1]" in out
    code, out, _ = cli(capsys, "losses")
    assert code == 0
    assert any(line.startswith("rosenbrock ") for line in out.splitlines())
    code, out, _ = cli(capsys, "optimizers")
    assert code == 0
    assert any(line.startswith("adam ") and "lr=0.001" in line for line in out.splitlines())
    code, out, _ = cli(capsys, "examples", "--json")
    assert code == 0
    assert json.loads(out)[0]["id"]


def test_a_session_from_the_command_line(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "session", "create", "-l", "x^2+3*y^2", "-o", "sgd", "--lr", "0.1",
                       "--opt", "momentum=0.5", "-s", "1,1", "-n", "8", "--json")  # fmt: skip
    assert code == 0
    created = json.loads(out)
    session_id = created["id"]
    assert created["config"]["optimizer"]["momentum"] == 0.5
    assert created["config"]["stop"]["max_steps"] == 8

    code, out, _ = cli(capsys, "session", "step", session_id, "-n", "5")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()[1:6]] == ["1", "2", "3", "4", "5"]
    assert f"session {session_id}  version 2  step 5  ready" in out

    code, out, _ = cli(capsys, "s", "show", session_id, "--trajectory")
    assert code == 0
    assert "step 5  ready" in out
    assert '"name": "sgd"' in out

    code, out, _ = cli(capsys, "session", "run", session_id)
    assert code == 0
    assert "took 3 steps" in out
    assert "step 8  max_steps" in out

    code, out, _ = cli(capsys, "watch", session_id, "--after", "6")
    assert code == 0
    lines = out.splitlines()
    assert [line.split()[0] for line in lines[1:3]] == ["7", "8"]
    assert lines[-1].startswith("max_steps at step 8: ")

    code, _, err = cli(capsys, "session", "step", session_id)
    assert code == 1
    assert err.startswith("error: Conflict (409): ")

    code, out, _ = cli(capsys, "session", "patch", session_id, "--steps", "20", "--lr", "0.05")
    assert code == 0
    assert "step 8  ready" in out
    code, out, _ = cli(capsys, "session", "reset", session_id, "--start", "2,2")
    assert code == 0
    assert "step 0  ready" in out
    code, out, _ = cli(capsys, "session", "ls")
    assert session_id in out

    code, out, _ = cli(capsys, "session", "rm", session_id)
    assert (code, out) == (0, f"deleted session {session_id}\n")
    code, _, err = cli(capsys, "session", "show", session_id)
    assert code == 1
    assert err.startswith("error: Not found (404): ")


def test_service_errors_exit_1_with_the_problem(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "run", "--loss", "x^2 +", "-o", "adam", "-s", "1")
    assert (code, out) == (1, "")
    lines = err.splitlines()
    assert lines[0].startswith("error: Invalid specification (422): body.loss.expression: syntax")
    assert lines[1].startswith("  body.loss.expression: syntax error")

    code, _, err = cli(capsys, "run", "--loss", "x^2", "-o", "adam", "-s", "1", "--lr", "-1")
    assert code == 1
    assert "  body.optimizer.lr: Input should be greater than 0" in err.splitlines()

    code, _, err = cli(capsys, "losses", "--api-key", "wrong")
    assert code == 1
    assert err.startswith("error: Unauthorized (401): ")


def test_usage_errors_exit_2_and_a_closed_port_exits_3(
    server: Server, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, "run", "--loss", "x^2", "-o", "adam", "--grad-tol", "1")
    assert code == 1  # a start is optional on the command line: the service asks for it
    assert "  body.start: Field required" in err
    assert cli(capsys, "run", "--loss", "x^2", "-o", "adam", "-s", "a,b")[0] == 2
    assert cli(capsys, "run", "--loss", "x^2", "-o", "{", "-s", "1")[0] == 2
    assert cli(capsys)[0] == 2
    assert cli(capsys, "--help")[0] == 0

    closed = f"http://127.0.0.1:{free_port()}"
    code, out, err = cli(capsys, "losses", "--url", closed)
    assert (code, out) == (3, "")
    assert err.startswith(f"error: cannot connect to {closed}")
    done = subprocess.run(
        [str(DESCENT), "analyze", "--loss", "x^2", "--point", "1"],
        env=env | {"DESCENT_URL": closed}, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 3


def test_parsing_helpers() -> None:
    assert parse_vector("-1.2,1") == [-1.2, 1.0]
    assert parse_vector("[1, 2 3]") == [1.0, 2.0, 3.0]
    assert parse_schedule("cosine:t_max=100,eta_min=0.001") == {
        "type": "cosine", "t_max": 100, "eta_min": 0.001,
    }  # fmt: skip
    assert parse_schedule("inverse_sqrt") == {"type": "inverse_sqrt"}
    assert parse_schedule("none") is None
    assert thin(5, 20) == [0, 1, 2, 3, 4]
    assert thin(101, 5) == [0, 25, 50, 75, 100]
