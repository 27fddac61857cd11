"""The ASGI entry point: `uvicorn api.server:app`.

`app` answers `HEAD /`, `GET /`, `GET /health` and `GET /ready` (503, booting) from the
moment the port opens and builds the FastAPI app (`api.app.create_app`) behind it
(`api.front`): importing this module loads only the standard library and the personas'
names, never FastAPI, a setting or a model.
"""

from api.front import Front
from api.liveness import booting_ready

app = Front("api.app:create_app", booting_ready=booting_ready)
