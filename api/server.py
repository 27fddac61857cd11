"""The ASGI entry point: `uvicorn api.server:app`."""

from api.app import create_app

app = create_app()
