"""The multi-replica deployment: compose file and nginx upstream agree, Redis keeps an AOF."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    return loaded


def replicas() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = compose()["services"]
    return {name: spec for name, spec in services.items() if name.startswith("descent")}


def test_replicas_are_built_from_the_dockerfile_and_share_redis() -> None:
    found = replicas()
    assert len(found) >= 2
    for spec in found.values():
        context = (DEPLOY / spec["build"]["context"]).resolve()
        assert context / spec["build"]["dockerfile"] == ROOT / "Dockerfile"
        assert spec["environment"]["DESCENT_STORE_URL"] == "redis://redis:6379/0"
        assert spec["depends_on"]["redis"]["condition"] == "service_healthy"
        assert "/readyz" in " ".join(spec["healthcheck"]["test"])


def test_redis_keeps_an_append_only_file_on_a_named_volume() -> None:
    document = compose()
    redis = document["services"]["redis"]
    assert redis["image"].startswith("redis:7")
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    assert re.search(r"--appendfsync \$\{REDIS_APPENDFSYNC:-everysec\}", command)
    volume, target = redis["volumes"][0].split(":")
    assert target == "/data"
    assert volume in document["volumes"]
    assert "healthcheck" in redis


def test_nginx_balances_over_exactly_the_replicas() -> None:
    document = compose()
    nginx = document["services"]["nginx"]
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in nginx["volumes"]
    assert set(nginx["depends_on"]) == set(replicas())
    assert "healthcheck" in nginx
    conf = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    upstream = re.search(r"upstream descent \{(.*?)\}", conf, re.DOTALL)
    assert upstream is not None
    servers = re.findall(r"^\s*server (\S+):8000\b", upstream.group(1), re.MULTILINE)
    assert sorted(servers) == sorted(replicas())
    assert "proxy_pass http://descent;" in conf
    assert "non_idempotent" not in conf  # a POST (a step) is never resent to another replica


def test_the_readme_explains_the_persistence_trade_off() -> None:
    text = (DEPLOY / "README.md").read_text(encoding="utf-8")
    for phrase in ("appendfsync always", "appendfsync everysec", "RDB", "docker compose"):
        assert phrase in text
