"""Schema-driven fuzzing of the REST API with schemathesis: every operation of /openapi.json is
called with generated parameters and bodies (valid and invalid), against a real server over the
bundled recording; every answer must conform to the published schema (status code documented,
content type, body schema) and no call may end in a server error."""
from __future__ import annotations

import asyncio
import threading

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed")
from _api_helpers import TOKEN, Feeder, make_node  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402


@pytest.fixture(scope="module")
def live_api():
    """A node + API on its own loop in a thread (schemathesis calls it synchronously)."""
    from tradecore.api.server import ApiServer
    box: dict = {}
    ready = threading.Event()

    def serve() -> None:
        loop = asyncio.new_event_loop()
        node = make_node()
        f = Feeder(node)
        f.until_books()
        f.feed(2000)
        server = ApiServer(node, host="127.0.0.1", port=0, token=TOKEN)
        loop.run_until_complete(server.start())
        server.phase = "running"
        box.update(loop=loop, server=server)
        ready.set()
        loop.run_forever()
        loop.run_until_complete(server.stop())
        loop.close()
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    assert ready.wait(60)
    yield box["server"].url
    box["loop"].call_soon_threadsafe(box["loop"].stop)
    t.join(10)


# schemathesis' own pytest plugin (schema.parametrize) does not run under pytest 9 here
# ('Function' object has no attribute '_nodeid'), so the operations are parametrized by hand and
# each one's case strategy (positive and negative generation) is drawn inside a hypothesis test.
from tradecore.api.server import ROUTES, openapi_document  # noqa: E402

SCHEMA = schemathesis.openapi.from_dict(openapi_document(make_node()))   # what /openapi.json says
OPERATIONS = [r.ok() for r in SCHEMA.get_all_operations()]
_HAS_INPUT = {f"{r.method} {r.path}" for r in ROUTES if r.query or r.body is not None
              or "{" in r.path}
CASES = [(op, schemathesis.GenerationMode.POSITIVE) for op in OPERATIONS] + [
    (op, schemathesis.GenerationMode.NEGATIVE) for op in OPERATIONS if op.label in _HAS_INPUT]


@pytest.mark.parametrize("operation, mode", CASES,
                         ids=[f"{o.label} {m.value}" for o, m in CASES])
def test_api_when_fuzzed_from_its_schema_conforms_to_it(live_api, operation, mode):
    import requests
    session = requests.Session()

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck),
              derandomize=True)
    def fuzz(case) -> None:
        case.call_and_validate(base_url=live_api, session=session,
                               headers={"Authorization": f"Bearer {TOKEN}"})
    fuzz()
