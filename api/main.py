"""The FastAPI application: ``create_app()`` builds it; ``uvicorn api.main:app`` serves it."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from api.deps import Offload
from api.errors import document_problems, install_error_handlers
from api.fastpath import LeanStep
from api.middleware import Frontline
from api.observability import configure_logging
from api.responses import NumpyJSONResponse
from api.routes import analysis, catalogue, examples, health, landscape, runs, sessions
from api.routes.explorer import mount_explorer
from core.expression import ExpressionLimits
from service.expressions import ExpressionCompiler
from service.sessions import SessionService
from service.settings import Settings, get_settings, split_list
from service.stores import open_store

DESCRIPTION = """Gradient-based optimization as a service: post a loss and optimizer settings,
get trajectories, gradients, Hessian eigenvalues and critical-point classifications back.
Errors are RFC 9457 `application/problem+json` documents."""


def operation_id(route: APIRoute) -> str:
    """Stable operation ids: the handler's name."""
    return route.name


def expression_limits(settings: Settings) -> ExpressionLimits:
    """The expression compiler's limits from the settings."""
    return ExpressionLimits(
        max_length=settings.expression_max_length,
        max_nodes=settings.expression_max_nodes,
        max_depth=settings.expression_max_depth,
        max_exponent=settings.expression_max_exponent,
        max_variables=settings.max_dimension,
        max_derivative_ops=settings.expression_max_derivative_ops,
    )


def create_app(settings: Settings | None = None, *, lean_step: bool = True) -> FastAPI:
    """The application; ``settings`` replaces the environment's (tests use this).

    ``lean_step`` puts ``api.fastpath.LeanStep`` in front of the router (off only to compare
    its answers with the route's)."""
    resolved = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(resolved)
        compiler = ExpressionCompiler(
            expression_limits(resolved),
            resolved.compile_timeout,
            resolved.compile_cache_size,
            warm=False,
        )
        offload = Offload(resolved.session_threads, resolved.quick_threads)
        # Start serving only once the fork server and code generation are warm, so the first
        # requests are as quick as the rest.
        await offload(compiler.warm_up)
        app.state.store = store
        app.state.compiler = compiler
        app.state.sessions = SessionService(store, compiler, resolved)
        app.state.offload = offload
        # Everything made so far (modules, routes, models, caches) lives as long as the
        # process: move it out of the collector's sight, so that a full collection under load
        # scans only the objects made since, not the whole heap (a full collection over the
        # startup heap stalls every request in flight for tens of milliseconds).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            offload.close()
            compiler.close()
            store.close()

    app = FastAPI(
        title="Descent",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        default_response_class=NumpyJSONResponse,
        generate_unique_id_function=operation_id,
    )
    app.state.settings = resolved
    install_error_handlers(app)
    configure_logging(resolved.log_level)
    if lean_step:
        app.add_middleware(LeanStep)  # added first: inside Frontline
    app.add_middleware(
        Frontline,
        max_body_bytes=resolved.max_body_bytes,
        max_header_bytes=resolved.max_header_bytes,
        keys=split_list(resolved.api_keys),
        cors_origins=split_list(resolved.cors_origins),
        compress_min_bytes=resolved.compress_min_bytes,
    )
    # Sessions first: the router tries the routes in order, and session requests are the
    # frequent ones (this order is also the order of the OpenAPI document's paths).
    for module in (sessions, health, catalogue, examples, analysis, landscape, runs):
        app.include_router(module.router)
    document_problems(app)
    _serve_docs_offline(app)
    mount_explorer(app)
    return app


def _serve_docs_offline(app: FastAPI) -> None:
    """Swagger UI from the assets of the swagger-ui-bundle package, so /docs needs no CDN."""
    app.mount("/static/swagger-ui", StaticFiles(directory=str(swagger_ui_path)), name="swagger")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="Descent — API docs",
            swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/swagger-ui/favicon-32x32.png",
        )


app = create_app()
