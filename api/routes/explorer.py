"""The built-in explorer: a single page at ``/`` drawing losses, trajectories and Hessians.

The page is plain HTML, CSS and JavaScript under ``api/static/explorer`` with Plotly vendored
beside it, so it loads with no network beyond the service itself.
"""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.staticfiles import NotModifiedResponse
from starlette.types import Scope

from api.middleware import accepts_gzip

EXPLORER_DIR = Path(__file__).resolve().parents[1] / "static" / "explorer"


class PrecompressedFiles(StaticFiles):
    """Static files that answer a client accepting gzip with a file's ``.gz`` sibling, made
    ahead of time (Plotly is 4.8 MB, 1.5 MB gzipped; compressing per request would hold the
    event loop for a tenth of a second). Either answer says ``Vary: Accept-Encoding``."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        """The file, or its gzip sibling with ``Content-Encoding: gzip``."""
        packed = f"{os.fspath(full_path)}.gz"
        if not os.path.isfile(packed):
            return super().file_response(full_path, stat_result, scope, status_code)
        headers = Headers(scope=scope)
        if not accepts_gzip(headers.get("accept-encoding", "")):
            response = super().file_response(full_path, stat_result, scope, status_code)
            response.headers["Vary"] = "Accept-Encoding"
            return response
        media_type = mimetypes.guess_type(os.fspath(full_path))[0] or "text/plain"
        response = FileResponse(
            packed,
            status_code=status_code,
            media_type=media_type,
            stat_result=os.stat(packed),
            headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"},
        )
        if self.is_not_modified(response.headers, headers):
            return NotModifiedResponse(response.headers)
        return response


router = APIRouter(include_in_schema=False)


@router.get("/", include_in_schema=False)
def explorer_page() -> FileResponse:
    """The explorer's page."""
    return FileResponse(EXPLORER_DIR / "index.html", media_type="text/html")


def mount_explorer(app: FastAPI) -> None:
    """Serve the page at ``/`` and its assets under ``/static/explorer``."""
    app.include_router(router)
    app.mount("/static/explorer", PrecompressedFiles(directory=str(EXPLORER_DIR)), name="explorer")
