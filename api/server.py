"""The ASGI entry point: `uvicorn api.server:app`.

`app` answers `HEAD /`, `GET /` and `GET /health` from the moment the port opens and builds
the FastAPI app (`api.app.create_app`) behind it (`api.front`): importing this module loads
only the standard library, never FastAPI, a setting or a model.
"""

from api.front import Front

app = Front("api.app:create_app")
