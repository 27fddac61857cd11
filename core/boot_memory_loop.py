"""The boot replay (the seed's name): read the archive once, index it, write insight.json.

The work lives in `core.memory.replay`; this module is its public entry point.
"""

from core.memory.replay import ReplayStatus, replay_archive, start_replay

__all__ = ["ReplayStatus", "replay_archive", "start_replay"]
