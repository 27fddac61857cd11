"""GET /metrics: Prometheus text; needs a token whenever any token is configured."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import AuthHeader, SettingsDep
from api.schemas import error_responses
from core.origin import require_metrics_reader

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}, **error_responses(401, 403)},
)
async def metrics(request: Request, settings: SettingsDep, authorization: AuthHeader = None
                  ) -> Response:
    """Requests, latency, tokens, queue depth, circuit states, memory lines, replay duration.

    Open while no token is configured; otherwise the origin token or ECHO_METRICS_TOKEN.
    """
    require_metrics_reader(authorization, settings)
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
