"""Every operational limit and choice, read from ``DESCENT_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Service settings; each field is the environment variable ``DESCENT_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="DESCENT_", frozen=True)

    store_url: str = Field(
        "sqlite:///descent.db",
        description="Session store: sqlite:///path (relative to the working directory; "
        "sqlite:////abs/path for absolute) or redis://host:port/db.",
    )
    max_body_bytes: int = Field(1_000_000, gt=0, description="Largest request body accepted.")
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
    max_batch_starts: int = Field(10_000, gt=0, description="Most starts in one batch run.")
    max_batch_optimizers: int = Field(16, gt=0, description="Most optimizers in one batch run.")
    max_trajectory_points: int = Field(
        100_000, gt=0, description="Most trajectory points one response may carry."
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
    sqlite_busy_timeout: float = Field(
        30.0, gt=0, description="Seconds a SQLite writer waits for the lock."
    )


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()
