"""Durable appends (the seed's name): every answered turn goes to memory/dayMMDD/user/.

The work lives in `core.memory.store`; this module is its public entry point.
"""

from core.memory.store import MemoryStore, SaveResult

__all__ = ["MemoryStore", "SaveResult"]
