"""The FastAPI application: REST API under /api/v1, the server-rendered UI, health and metrics."""
