"""The domain exception family. Each message says how to fix the problem.

`core/` knows nothing of HTTP: `api/errors.py` maps these to status codes.
Every error carries an English and a Korean message (the origin's rule). Every domain
error lives here, so `except` clauses and the status map import from one place.

Declared boilerplate (for `duplicates`): the classes below repeat one small shape on
purpose, one class a code.
"""

from __future__ import annotations


class EchoBrainError(Exception):
    """Base of every error the product reports to a user."""

    code = "internal"

    def __init__(self, message: str, message_ko: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.message_ko = message_ko
        self.retry_after = retry_after


class ConfigError(EchoBrainError):
    """A setting has a bad value; the message names the variable."""

    code = "bad_config"


class BadInput(EchoBrainError):
    """The request is malformed."""

    code = "bad_input"


class PromptTooLong(EchoBrainError):
    """The prompt is over ECHO_MAX_PROMPT_CHARS or the body over 1 MiB."""

    code = "too_large"


class NotReady(EchoBrainError):
    """No circuit is ready yet."""

    code = "not_ready"


class CircuitBusy(EchoBrainError):
    """A circuit's queue is full."""

    code = "busy"


class Unauthorized(EchoBrainError):
    """A missing or wrong token."""

    code = "unauthorized"


class Forbidden(EchoBrainError):
    """A valid caller who is not the origin asked for an origin-only action."""

    code = "forbidden"


class Conflict(EchoBrainError):
    """The thing to create exists already."""

    code = "conflict"


class NotFound(EchoBrainError):
    """The thing asked for does not exist."""

    code = "not_found"


class PlanRejected(BadInput):
    """The creation circuit's plan is unusable; the message says which rule it broke."""

    code = "bad_plan"


class ProjectWriteError(EchoBrainError):
    """Writing a created project failed (disk full, permissions); nothing was left behind."""

    code = "create_failed"


class ZipError(EchoBrainError):
    """The deploy zip could not be built or did not check out."""

    code = "zip_failed"


class FetchError(EchoBrainError):
    """A model could not be downloaded."""

    code = "fetch_failed"
