"""HTTP layer: the FastAPI app, its routers, schemas and problem+json errors."""
