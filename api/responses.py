"""The JSON response class: orjson, which also writes NumPy arrays directly."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
from fastapi.responses import JSONResponse

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


def _default(value: Any) -> Any:
    """orjson writes C-contiguous arrays itself; views (eigenvector columns, slices) land here."""
    if isinstance(value, np.ndarray):
        return np.ascontiguousarray(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


class NumpyJSONResponse(JSONResponse):
    """JSON via orjson; NumPy arrays are serialised without conversion to lists."""

    def render(self, content: Any) -> bytes:
        """Encodes ``content``; NaN never reaches here (runs stop before non-finite values)."""
        return orjson.dumps(content, default=_default, option=_OPTIONS)


class ProblemResponse(NumpyJSONResponse):
    """An RFC 9457 problem document."""

    media_type = "application/problem+json"
