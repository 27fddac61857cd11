"""Building the circuits from settings: the thread plan."""

from __future__ import annotations

from core.circuits import thread_plan
from core.settings import load_settings


def test_threads_fit_the_machine() -> None:
    assert thread_plan(load_settings(), cores=2) == 1
    assert thread_plan(load_settings(), cores=16) == 5
    assert thread_plan(load_settings(emotion_model="echo", creation_model="echo"), cores=8) == 8
    assert thread_plan(load_settings(n_threads=3), cores=16) == 3
