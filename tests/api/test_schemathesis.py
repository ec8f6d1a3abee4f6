"""schemathesis against the API's own OpenAPI document: generated requests for every
operation (bounded: a few examples each, no deadline on a loaded machine). No request
may get a 5xx, with or without the token; every mutating call without the token is
refused with 401 and changes nothing."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.api.conftest import AUTH

pytestmark = pytest.mark.long  # generated requests for every API operation

EXAMPLES = 12
BOUNDED = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same requests every run: a failure reproduces
)


@pytest.fixture
def api_schema(region, token_file):
    from zonewarden.api.app import ApiOptions, create_app

    config, store, _ = region
    asgi, _ = create_app(config, store, ApiOptions(token_file=token_file, rate_burst=100_000))
    return schemathesis.openapi.from_asgi("/openapi.json", asgi)


def operations(schema, method=None):
    """Every operation of the document (schemathesis' pytest plugin is not used: its
    fixture loader does not run under this pytest)."""
    ops = [result.ok() for result in schema.get_all_operations()]
    assert ops, "the OpenAPI document lists no operations"
    return [op for op in ops if method is None or op.method.upper() == method]


def each_case(operation, check):
    @given(case=operation.as_strategy())
    @BOUNDED
    def run(case):
        check(case)

    run()


def test_no_generated_request_gets_a_server_error(api_schema):
    def check(case):
        response = case.call(headers=AUTH if case.method.upper() == "POST" else None)
        case.validate_response(response, checks=[not_a_server_error])

    for operation in operations(api_schema):
        each_case(operation, check)


def test_every_mutating_call_without_the_token_is_refused(api_schema, region):
    _, store, _ = region
    before = store.newest(), store.frozen(), list(store.operator_holds())
    posts = operations(api_schema, "POST")
    assert len(posts) >= 10  # freeze, unfreeze, pin, unpin, rollback, repair, drain, ...

    def check(case):
        headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        case.headers = headers
        response = case.call()
        assert response.status_code == 401, (case.path, response.status_code, response.text)

    for operation in posts:
        each_case(operation, check)
    assert (store.newest(), store.frozen(), list(store.operator_holds())) == before
