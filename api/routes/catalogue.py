"""Read-only catalogues: the builtin losses and the optimizers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.schemas import LossCatalogue, OptimizerCatalogue
from core.builtins import describe_catalogue
from core.catalogue import optimizer_catalogue

router = APIRouter(prefix="/v1", tags=["catalogue"])


@router.get("/losses", response_model=LossCatalogue)
def list_losses() -> dict[str, Any]:
    """Every builtin loss: formula, editable expression, dimensions, parameters, minima, domain."""
    return {"losses": describe_catalogue()}


@router.get("/optimizers", response_model=OptimizerCatalogue)
def list_optimizers() -> dict[str, Any]:
    """Every optimizer: hyperparameters with defaults and ranges, forms, update rule, internals."""
    return {"optimizers": optimizer_catalogue()}
