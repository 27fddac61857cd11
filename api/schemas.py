"""Request and response models."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr


class AskRequest(BaseModel):
    """Body of POST /api/ask."""

    model_config = ConfigDict(extra="ignore")

    prompt: StrictStr = Field(description="What the origin says / 오리진의 말")
    stream: StrictBool = Field(False, description="Answer as server-sent events")
