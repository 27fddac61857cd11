"""Server-sent events: run a producer in a task and yield what it emits, as it emits it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from api.errors import status_of
from core.errors import EchoBrainError

Emit = Callable[[str], Awaitable[None]]


async def relay(produce: Callable[[Emit], Awaitable[None]]) -> AsyncIterator[str]:
    """Yield each string `produce` emits; a client that goes away cancels the producer."""
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    async def run() -> None:
        try:
            await produce(queue.put)
        finally:
            await queue.put(None)

    task = asyncio.create_task(run())
    try:
        while (item := await queue.get()) is not None:
            yield item
    finally:
        if not task.done():
            task.cancel()


def error_fields(exc: EchoBrainError) -> dict[str, Any]:
    """The error body's fields, for an error that happens after the stream began."""
    return {
        "status": status_of(exc),
        "code": exc.code,
        "message": exc.message,
        "message_ko": exc.message_ko,
    }
