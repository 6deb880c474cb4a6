"""Dependencies of the route handlers, as named ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.expressions import ExpressionCompiler
from service.sessions import SessionService
from service.settings import Settings, get_settings
from service.stores import SessionStore


def get_store(request: Request) -> SessionStore:
    """The session store opened by the app's lifespan."""
    store: SessionStore = request.app.state.store
    return store


def get_compiler(request: Request) -> ExpressionCompiler:
    """The process's expression compiler and its cache."""
    compiler: ExpressionCompiler = request.app.state.compiler
    return compiler


def get_sessions(request: Request) -> SessionService:
    """The session use cases bound to the app's store and compiler."""
    sessions: SessionService = request.app.state.sessions
    return sessions


def get_owner(request: Request) -> str:
    """The caller's tenant: a hash of its API key, "" when keys are off."""
    owner: str = getattr(request.state, "owner", "")
    return owner


SettingsDep = Annotated[Settings, Depends(get_settings)]
OwnerDep = Annotated[str, Depends(get_owner)]
StoreDep = Annotated[SessionStore, Depends(get_store)]
CompilerDep = Annotated[ExpressionCompiler, Depends(get_compiler)]
SessionsDep = Annotated[SessionService, Depends(get_sessions)]
