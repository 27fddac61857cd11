"""Schemathesis against the live server's /openapi.json: no server error, no undocumented
status code or content type, for valid and invalid requests alike (echo backends)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from tests.e2e_server import Server, run_server

ORIGIN_TOKEN = "fuzz-origin-token"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]
ECHO = {f"ECHO_{c}_MODEL": "echo" for c in ("EMOTION", "CREATION", "SELF")}
# where the route checks nothing the schema does not say (the prompt, the query)
SCHEMA_IS_THE_RULE = {"POST /api/ask", "GET /api/memory/search", "GET /api/memory/recall"}
EXAMPLES = 20  # per operation and mode: about a minute on two cores


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real server on the echo backends, with an origin token so origin routes are reached."""
    with run_server(tmp_path_factory.mktemp("fuzz"), ECHO_ORIGIN_TOKEN=ORIGIN_TOKEN, **ECHO) as srv:
        srv.wait_ready()
        yield srv


@pytest.fixture(scope="module")
def api_schema(live: Server) -> schemathesis.BaseSchema:
    """The document the server itself publishes."""
    return schemathesis.openapi.from_url(f"{live.url}/openapi.json")


def operations(api_schema: schemathesis.BaseSchema) -> list[APIOperation]:
    """Every operation of the document (an invalid one fails the test)."""
    return [result.ok() for result in api_schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_server_keeps_its_openapi_promises(
    live: Server, api_schema: schemathesis.BaseSchema, mode: GenerationMode
) -> None:
    # The Python API rather than schema.parametrize(): schemathesis' lazy pytest loader
    # does not run under pytest 9; the cases and checks are the same.
    failures: dict[str, str] = {}
    exercised: list[str] = []
    for operation in operations(api_schema):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def call(case: schemathesis.Case) -> None:
            response = case.call_and_validate(
                base_url=live.url,
                headers={"Authorization": f"Bearer {ORIGIN_TOKEN}"},
                checks=CHECKS,
                timeout=60,
            )
            if mode is GenerationMode.POSITIVE and case.operation.label in SCHEMA_IS_THE_RULE:
                assert response.status_code != 422, f"valid by the schema, refused: {response.text}"

        try:
            call()
            exercised.append(operation.label)
        except Unsatisfiable:  # nothing to get wrong: an operation without parameters or body
            assert mode is GenerationMode.NEGATIVE, operation.label
        except Exception as exc:  # one operation's failure must not hide the others'
            failures[operation.label] = str(exc)[:2000]
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
    assert {"POST /api/ask", "POST /v1/chat/completions", "GET /api/memory/search",
            "GET /api/memory/recall", "DELETE /api/memory/lines/{day}/{part}/{line}",
            "DELETE /api/memory/turns/{day}/{part}/{line}",
            "DELETE /api/memory/guests/{name}"} <= set(exercised)


def test_the_document_declares_streams_and_errors(api_schema: schemathesis.BaseSchema) -> None:
    """The parts of the document clients rely on (and that the fuzzing above exercises)."""
    paths = api_schema.raw_schema["paths"]
    for path in ("/api/ask", "/v1/chat/completions"):
        ok = paths[path]["post"]["responses"]["200"]["content"]
        assert {"application/json", "text/event-stream"} <= set(ok), path
    ask = paths["/api/ask"]["post"]["responses"]
    assert {"201", "403", "413", "422", "429", "503"} <= set(ask)
    body = api_schema.raw_schema["components"]["schemas"]["AskRequest"]["properties"]["prompt"]
    assert body["pattern"] == r"\S"  # a whitespace-only prompt is refused by the schema itself
    assert "text/plain" in paths["/metrics"]["get"]["responses"]["200"]["content"]
