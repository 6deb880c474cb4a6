"""Writes the app's OpenAPI schema to ``openapi.yaml`` (run: ``python -m api.openapi``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from api.main import create_app
from service.settings import Settings

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "openapi.yaml"


def openapi_schema() -> dict[str, Any]:
    """The schema the app serves at /openapi.json (independent of the environment)."""
    schema: dict[str, Any] = create_app(Settings()).openapi()
    return schema


def render(schema: dict[str, Any]) -> str:
    """The schema as YAML, in the app's key order."""
    text: str = yaml.safe_dump(schema, sort_keys=False, allow_unicode=True, width=100)
    return text


def main() -> None:
    """Regenerates openapi.yaml."""
    SCHEMA_PATH.write_text(render(openapi_schema()), encoding="utf-8")
    sys.stdout.write(f"wrote {SCHEMA_PATH}\n")


if __name__ == "__main__":
    main()
