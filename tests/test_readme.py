"""The README documents every setting and starts with the two commands."""

from __future__ import annotations

from pathlib import Path

from service.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented_with_its_default() -> None:
    missing = []
    for name, field in Settings.model_fields.items():
        row = f"| `DESCENT_{name.upper()}` | `{field.default}` |"
        if row not in README:
            missing.append(row)
    assert missing == []


def test_readme_opens_with_the_serve_and_test_commands() -> None:
    first_block = README.split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert commands == ["bash scripts/serve", "bash scripts/test"]
