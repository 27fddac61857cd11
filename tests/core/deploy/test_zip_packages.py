"""The deploy zip carries every package the `echo-brain` command is built from."""

from __future__ import annotations

import tomllib
from pathlib import Path

from core.deploy.zip import INCLUDE_DIRS

ROOT = Path(__file__).resolve().parents[3]


def test_every_package_of_the_wheel_is_in_the_zip() -> None:
    """A package left out (trainkit/, tune/) breaks `echo-brain train`/`tune` on the pod."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    assert set(packages) <= set(INCLUDE_DIRS)
