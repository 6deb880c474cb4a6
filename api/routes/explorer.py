"""The built-in explorer: a single page at ``/`` drawing losses, trajectories and Hessians.

The page is plain HTML, CSS and JavaScript under ``api/static/explorer`` with Plotly vendored
beside it, so it loads with no network beyond the service itself.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

EXPLORER_DIR = Path(__file__).resolve().parents[1] / "static" / "explorer"

router = APIRouter(include_in_schema=False)


@router.get("/", include_in_schema=False)
def explorer_page() -> FileResponse:
    """The explorer's page."""
    return FileResponse(EXPLORER_DIR / "index.html", media_type="text/html")


def mount_explorer(app: FastAPI) -> None:
    """Serve the page at ``/`` and its assets under ``/static/explorer``."""
    app.include_router(router)
    app.mount("/static/explorer", StaticFiles(directory=str(EXPLORER_DIR)), name="explorer")
