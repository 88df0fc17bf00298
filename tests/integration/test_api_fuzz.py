"""Schemathesis over the whole OpenAPI of the real app, as an administrator: valid and invalid requests alike, no
answer is a 5xx and the server keeps serving.

Bounded (a few seeded examples per operation and mode) so it adds about a minute to the suite and repeats exactly.
"""

from __future__ import annotations

import asyncio

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.support.backend import AUTH, Backend
from tests.support.world import World

EXAMPLES_PER_OPERATION = 12
TIMEOUT_S = 20

# Schemathesis's invalid-data mutations draw from the `random` module, which Hypothesis now warns about.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module:hypothesis.errors.HypothesisDeprecationWarning"
)


IN_QUERIES = ["a\u0000b", "x" * 5000, 2**40, -(2**70), "9999-12-31T23:59:59+16:53", "0001-01-01"]
IN_BODIES = [*IN_QUERIES, "help \ud800", None, 2**70, 1e308, {"nested": "\u0000"}, ["\u0000"]]
"""What hostile clients send where a field is expected: text PostgreSQL refuses, ids past 64 bits, far offsets."""


@st.composite
def _cases(draw: st.DrawFn, operation: schemathesis.APIOperation) -> schemathesis.Case:
    """Schemathesis's valid or invalid case, with one query parameter or body field swapped for a hostile value
    half the time (its own generators rarely draw a NUL, a lone surrogate or a null)."""
    mode = draw(st.sampled_from([GenerationMode.POSITIVE, GenerationMode.NEGATIVE]))
    case = draw(operation.as_strategy(generation_mode=mode))
    places = [(case.query, key, IN_QUERIES) for key in case.query or {}]
    if isinstance(case.body, dict):
        places += [(case.body, key, IN_BODIES) for key in case.body]
    if places and draw(st.booleans()):
        where, key, values = draw(st.sampled_from(places))
        where[key] = draw(st.sampled_from(values))
    return case


def _fuzz(base_url: str) -> list[str]:
    """Every request that answered 5xx or broke the connection, as "METHOD path → status: body"."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures: list[str] = []
    with requests.Session() as session:  # one keep-alive connection: an answer must not spoil the next request
        for result in schema.get_all_operations():
            operation = result.ok()

            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                derandomize=True,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=_cases(operation))
            def call(case: schemathesis.Case) -> None:
                where = f"{case.method} {case.formatted_path}"
                try:
                    # A copy: schemathesis merges the case's own headers into the dict it is given.
                    response = case.call(base_url=base_url, session=session, headers=dict(AUTH), timeout=TIMEOUT_S)
                except requests.RequestException as err:
                    failures.append(f"{where} → {type(err).__name__}: {err}")
                    return
                if response.status_code >= 500:
                    failures.append(f"{where} → {response.status_code}: {response.text[:200]}")

            call()
    return failures


async def test_no_request_from_the_schema_or_beside_it_answers_5xx(backend: Backend, world: World) -> None:
    failures = await asyncio.to_thread(_fuzz, backend.url)  # schemathesis is synchronous; the app runs on this loop
    assert failures == []
