"""The OpenAPI contract, fuzzed with Schemathesis in-process (WSGI) over every operation: no server
errors, and every response (status code, content type, headers, body) is one the schema documents.

Runs as a superuser (who may call every operation) on the world of conftest.py, with valid and invalid
generated input. Examples per operation are limited so the run stays within a few minutes.

(Schemathesis' pytest plugin does not run on pytest 9 yet, so the test drives its Python API: one
Hypothesis run per operation, every failure collected and reported together.)
"""

import hypothesis
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import api_client

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
EXAMPLES_PER_OPERATION = 20


@pytest.fixture
def api_schema(world, settings):
    # Generous rates: the fuzzer is one client sending hundreds of requests.
    settings.API_THROTTLE_RATES = {name: "100000/min" for name in settings.API_THROTTLE_RATES}
    # As Django's test client does: a request must not close the connection that holds the test's
    # transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        # A WSGI app built now, so its middleware sees this test's settings (no HTTPS redirect).
        yield schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _fuzz(operation, authorization: str) -> None:
    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @hypothesis.given(case=strategy)
    @hypothesis.settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        # Each request in a savepoint rolled back after it, as each request is its own transaction in
        # production: examples stay independent, and a refused statement cannot poison the next one.
        with transaction.atomic():
            case.call_and_validate(headers={"Authorization": authorization}, checks=CHECKS)
            transaction.set_rollback(True)

    run()


def test_every_operation_honours_the_contract(api_schema, world):
    authorization = api_client(world.users["superuser"])._credentials["HTTP_AUTHORIZATION"]
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 40
    failures = []
    for operation in operations:
        try:
            _fuzz(operation, authorization)
        except (Exception, BaseExceptionGroup) as exc:  # collect every operation's failures, report all
            failures.append(f"{operation.label}:\n{exc}")
    assert not failures, f"{len(failures)} operation(s) break the contract:\n\n" + "\n\n".join(failures)
