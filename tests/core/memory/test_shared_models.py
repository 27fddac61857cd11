"""The process's shared Kiwi and e5 load once, however many threads ask at the same time."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from types import ModuleType

import pytest

from core.memory.recall import embed, terms


class SlowModel:
    """Stands for a model that takes a while to load; counts its loads."""

    loads = 0

    def __init__(self, *args: object, **kwargs: object) -> None:
        type(self).loads += 1
        time.sleep(0.3)


@pytest.fixture(params=[(embed, "Embedder", "shared_embedder"),
                        (terms, "Analyzer", "shared_analyzer")])
def shared(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    module, cls, getter = request.param
    assert isinstance(module, ModuleType)
    module._load_shared.cache_clear()
    monkeypatch.setattr(module, cls, SlowModel)
    SlowModel.loads = 0
    yield getattr(module, getter)
    module._load_shared.cache_clear()  # the real model loads again for later tests


def test_two_threads_asking_at_once_get_one_model(shared: object) -> None:
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(shared())) for _ in range(2)]  # type: ignore[operator]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert SlowModel.loads == 1
    assert got[0] is got[1]
