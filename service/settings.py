"""Every operational limit and choice, read from ``DESCENT_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Service settings; each field is the environment variable ``DESCENT_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="DESCENT_", frozen=True)

    api_keys: str = Field(
        "",
        description="Comma-separated API keys; when set, every /v1 request needs one (Bearer "
        "token or X-API-Key) and sessions belong to the key that created them.",
    )
    cors_origins: str = Field(
        "", description="Comma-separated origins allowed by CORS (browser visualisers); * for any."
    )
    log_level: str = Field(
        "INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$", description="Level of the JSON logs."
    )
    store_url: str = Field(
        "sqlite:///descent.db",
        description="Session store: sqlite:///path (relative to the working directory; "
        "sqlite:////abs/path for absolute) or redis://host:port/db.",
    )
    max_body_bytes: int = Field(1_000_000, gt=0, description="Largest request body accepted.")
    max_header_bytes: int = Field(
        65_536, gt=0, description="Largest total size of a request's header names and values."
    )
    compress_min_bytes: int = Field(
        65_536,
        ge=0,
        description="JSON answers of at least this many bytes go gzip-compressed to clients "
        "that accept gzip; 0 turns compression off.",
    )
    max_dimension: int = Field(32, gt=0, description="Most parameters (variables) of a loss.")
    max_steps: int = Field(
        100_000,
        gt=0,
        description="Most steps of one run; also a session's stop.max_steps when unset.",
    )
    default_max_steps: int = Field(1_000, gt=0, description="stop.max_steps of a run when unset.")
    max_steps_per_request: int = Field(
        10_000, gt=0, description="Most steps one session step request may ask for."
    )
    max_dataset_rows: int = Field(
        100_000, gt=0, description="Most examples of a dataset loss (inline or generated)."
    )
    max_dataset_features: int = Field(1_000, gt=0, description="Most features of a dataset.")
    max_dataset_values: int = Field(
        2_000_000, gt=0, description="Most numbers in a dataset's X (examples × features)."
    )
    max_model_params: int = Field(
        100_000, gt=0, description="Most parameters of a dataset loss's model."
    )
    max_hessian_params: int = Field(
        400,
        gt=0,
        description="Most parameters for which a Hessian is computed (analysis of a point, a "
        "run's final analysis, Newton's method); larger models skip the final analysis.",
    )
    max_trajectory_values: int = Field(
        5_000_000,
        gt=0,
        description="Most numbers in one answer's trajectory (points × parameters, per column).",
    )
    max_batch_starts: int = Field(10_000, gt=0, description="Most starts in one batch run.")
    max_batch_optimizers: int = Field(16, gt=0, description="Most optimizers in one batch run.")
    max_run_steps: int = Field(
        100_000, gt=0, description="Most steps one POST /v1/sessions/{id}/run may take."
    )
    events_max_seconds: float = Field(
        600.0, gt=0, description="Longest an event stream stays open (clients reconnect)."
    )
    events_poll_interval: float = Field(
        0.1, gt=0, description="Seconds between an event stream's looks for new points."
    )
    max_trajectory_points: int = Field(
        100_000, gt=0, description="Most trajectory points one response may carry."
    )
    max_landscape_points: int = Field(
        250_000, gt=0, description="Most grid points of one landscape (nx·ny; 500×500)."
    )
    max_dataset_work: int = Field(
        2_000_000_000,
        gt=0,
        description="Most operations (examples × parameters × evaluations) a dataset loss's "
        "landscape or Hessian may cost.",
    )
    max_gradient_field_points: int = Field(
        10_000, gt=0, description="Most points of a landscape's gradient (quiver) grid."
    )
    max_critical_point_starts: int = Field(
        10_000, gt=0, description="Most Newton starts of one critical-point search."
    )
    max_critical_points: int = Field(
        1_000, gt=0, description="Most critical points one answer lists (the rest are counted)."
    )
    request_time_limit: float = Field(
        10.0, gt=0, description="Seconds of computation one request may use before it stops."
    )
    expression_max_length: int = Field(2_000, gt=0, description="Longest expression, characters.")
    expression_max_nodes: int = Field(400, gt=0, description="Most syntax-tree nodes.")
    expression_max_depth: int = Field(40, gt=0, description="Deepest nesting of an expression.")
    expression_max_exponent: int = Field(64, gt=0, description="Largest |constant exponent|.")
    expression_max_derivative_ops: int = Field(
        20_000, gt=0, description="Most operations in an expression's gradient and Hessian."
    )
    compile_timeout: float = Field(
        5.0, gt=0, description="Seconds allowed to differentiate one expression."
    )
    compile_cache_size: int = Field(256, ge=0, description="Compiled expressions kept in memory.")
    redis_prefix: str = Field(
        "descent", min_length=1, description="Prefix of every Redis key (several deployments)."
    )
    max_sessions: int = Field(
        100_000, gt=0, description="Most live sessions; creating one more answers 429."
    )
    max_session_points: int = Field(
        1_000_001,
        gt=1,
        description="Most trajectory points stored per session; a step past it answers 409.",
    )
    session_idle_ttl: float = Field(
        7 * 24 * 3600.0, gt=0, description="Seconds after its last write a session expires."
    )
    idempotency_ttl: float = Field(
        24 * 3600.0, gt=0, description="Seconds an Idempotency-Key's first answer is kept."
    )
    sqlite_busy_timeout: float = Field(
        30.0, gt=0, description="Seconds a SQLite writer waits for the lock."
    )
    quick_threads: int = Field(
        4,
        gt=0,
        description="Threads per worker process for quick session work: reads, deletes and "
        "steps of at most DESCENT_QUICK_STEPS steps. Few: Python threads take turns on one "
        "interpreter lock, and many runnable threads spend CPU handing it over.",
    )
    quick_steps: int = Field(
        64, gt=0, description="Most steps of a session step request counted as quick work."
    )
    session_threads: int = Field(
        40,
        gt=0,
        description="Threads per worker process for the other session work (creating, "
        "patching, resetting, longer stepping and running), which may take long.",
    )


def split_list(value: str) -> list[str]:
    """The items of a comma-separated setting."""
    return [item.strip() for item in value.split(",") if item.strip()]


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()
