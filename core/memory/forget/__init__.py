"""Forgetting: the origin removes a line, a turn or a guest's tree from everywhere it is kept.

The part file and its backup mirror (a tombstone keeps the other lines' numbers), the
search index, the recall database (terms, vectors), the HNSW graph, and so every later
training run. See forgetter.py for the order and the crash safety, journal.py for the
intent journal and the audit log.
"""

from core.memory.forget.forgetter import Forgetter, Forgotten
from core.memory.forget.journal import AUDIT_LOG, read_audit

__all__ = ["AUDIT_LOG", "Forgetter", "Forgotten", "read_audit"]
