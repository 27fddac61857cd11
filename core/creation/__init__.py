"""Project creation: the command (who, what name), the plan (validated), the atomic write."""

from core.creation.command import is_creation_command, slugify
from core.creation.project import Planner, ProjectResult, create_project

__all__ = ["Planner", "ProjectResult", "create_project", "is_creation_command", "slugify"]
