"""Request ids, metrics, readiness and crashes, as an operator and a client see them."""

from __future__ import annotations

import re
from pathlib import Path
from uuid import UUID

import httpx
import pytest
from dependency_injector import providers

from application.use_cases.get_student import GetStudent
from infrastructure.migrations import head_revision
from infrastructure.sqlalchemy import faults
from infrastructure.sqlalchemy.gate import ConnectionGate
from interfaces.container import Container
from interfaces.http.app import create_app
from tests.support.api import ADA, assert_problem, create
from tests.support.auth import settings_for_tests
from tests.support.databases import BACKENDS
from tests.support.server import free_port

GENERATED_ID = re.compile(r"[0-9a-f]{32}")


async def test_a_client_request_id_comes_back(client: httpx.AsyncClient) -> None:
    response = await client.get("/students", headers={"x-request-id": "checkout-7f3a:retry=2"})
    assert response.headers["x-request-id"] == "checkout-7f3a:retry=2"


@pytest.mark.parametrize(
    "offered", [None, b"", b"x" * 129, b"two words", "naïve".encode(), b"a\tb", b"<script>"]
)
async def test_a_missing_or_unfit_request_id_is_replaced(
    client: httpx.AsyncClient, offered: bytes | None
) -> None:
    headers: dict[bytes, bytes] = {} if offered is None else {b"x-request-id": offered}
    response = await client.get("/healthz", headers=headers)
    assert GENERATED_ID.fullmatch(response.headers["x-request-id"])


async def test_every_request_gets_its_own_id(client: httpx.AsyncClient) -> None:
    ids = {(await client.get("/healthz")).headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5


async def test_problems_carry_the_request_id_in_header_and_body(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    mine = {"x-request-id": "report-me-42"}
    answers = [
        await anonymous.get("/students", headers=mine),  # 401 from the authentication middleware
        await client.get("/students/not-a-uuid", headers=mine),  # 422 from validation
        await client.get(f"/students/{UUID(int=1)}", headers=mine),  # 404 from the domain
        await client.post(  # 413 from the size limit
            "/students", content=b"x" * (2 << 20), headers={"content-type": "application/json", **mine}
        ),
    ]
    for response in answers:
        assert response.headers["x-request-id"] == "report-me-42", response.status_code
        assert response.json()["request_id"] == "report-me-42", response.status_code


class Crash(GetStudent):
    async def execute(self, student_id: UUID) -> None:  # type: ignore[override]
        raise RuntimeError("SELECT secret FROM students WHERE email = 'ada@example.org'")


@pytest.fixture
def crashing(container: Container) -> Container:
    container.get_student.override(providers.Factory(Crash, uow=container.read_only_unit_of_work))
    return container


@pytest.mark.usefixtures("crashing")
async def test_a_crash_is_a_bare_500_with_its_request_id(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = await client.get(f"/students/{UUID(int=1)}", headers={"x-request-id": "crash-1"})
    problem = assert_problem(response, 500)
    assert problem["detail"] == "the server failed to handle this request"
    assert problem["request_id"] == "crash-1"
    assert "SELECT" not in response.text
    assert "RuntimeError" not in response.text
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    logged = [r for r in caplog.records if r.name == "interfaces.http.observability"]
    assert [r.exc_info is not None for r in logged] == [True]  # the whole story is in the log


def _sample(exposition: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    for line in exposition.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        series, _, value = line.rpartition(" ")
        if series.split("{")[0] != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', series))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(value)
    return 0.0


async def test_metrics_count_requests_by_route_template_method_and_status(client: httpx.AsyncClient) -> None:
    before = (await client.get("/metrics")).text
    student = await create(client)
    for _ in range(3):
        assert (await client.get(f"/students/{student['id']}")).status_code == 200
    await client.get(f"/students/{UUID(int=1)}")
    await client.get("/no/such/path")
    await client.head(f"/students/{student['id']}")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text

    def grew(name: str, **labels: str) -> float:
        return _sample(after, name, **labels) - _sample(before, name, **labels)

    route = "/students/{student_id}"
    assert grew("http_requests_total", method="GET", route=route, status="200") == 3
    assert grew("http_requests_total", method="GET", route=route, status="404") == 1
    assert grew("http_requests_total", method="POST", route="/students", status="201") == 1
    assert grew("http_requests_total", method="GET", route="<unmatched>", status="404") == 1
    # A HEAD is counted as what it is, under the route it was answered by.
    assert grew("http_requests_total", method="HEAD", route=route, status="200") == 1
    assert grew("http_request_duration_seconds_count", method="GET", route=route, status="200") == 3
    assert (
        grew("http_request_duration_seconds_bucket", method="GET", route=route, status="200", le="+Inf") == 3
    )
    for gauge in ("db_pool_connections_in_use", "db_pool_waiting"):
        assert f"# TYPE {gauge} gauge" in after


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def backend(request: pytest.FixtureRequest) -> str:
    """The tests below look at the database itself, which the in-memory backend has none of."""
    return str(request.param)


# On every backend, memory included: the counters are an event handler, not part of an adapter.
@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
async def test_committed_changes_to_students_are_counted(client: httpx.AsyncClient) -> None:
    before = (await client.get("/metrics")).text
    student = await create(client)
    assert (await client.post("/students", json=ADA)).status_code == 409  # rolled back: not counted
    patched = await client.patch(f"/students/{student['id']}", json={"cgpa": 9}, headers={"if-match": '"1"'})
    assert patched.status_code == 200
    assert (await client.delete(f"/students/{student['id']}", headers={"if-match": '"2"'})).status_code == 204
    after = (await client.get("/metrics")).text
    for name in ("students_created_total", "students_updated_total", "students_deleted_total"):
        assert _sample(after, name) - _sample(before, name) == 1, name


async def test_readiness_reports_the_database_revision_and_the_expected_one(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "database_revision": head_revision(),
        "expected_revision": head_revision(),
    }


async def _readiness_on(database_url: str) -> httpx.Response:
    """/readyz of an app whose database is ``database_url``."""
    container = Container()
    container.settings.override(providers.Object(settings_for_tests(database_url=database_url)))
    transport = httpx.ASGITransport(app=create_app(container))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.get("/readyz")
    finally:
        await container.engine().dispose()
        await container.probe_engine().dispose()


async def test_a_database_without_its_schema_is_not_ready(tmp_path: Path) -> None:
    response = await _readiness_on(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    assert assert_problem(response, 503)["type"] == "/problems/database-not-migrated"
    assert response.headers["retry-after"] == "10"  # a person or a deploy migrates it


async def test_an_unreachable_database_is_not_ready_and_the_log_says_why(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(faults, "throttled", faults.ThrottledWarnings())  # none left from other tests
    response = await _readiness_on(f"postgresql+asyncpg://app:pw@127.0.0.1:{free_port()}/students")
    assert assert_problem(response, 503)["detail"] == "the database cannot be reached"  # not a timeout
    assert any(r.getMessage().startswith("not ready: ") for r in caplog.records)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_when_every_connection_stays_busy_the_answer_is_503_then_service_resumes(
    client: httpx.AsyncClient, container: Container
) -> None:
    container.connection_gate.override(providers.Object(ConnectionGate(permits=1, timeout=0.05)))
    container.database.reset()  # built with the gate it had: build it again with this one
    holder = container.unit_of_work()
    async with holder:  # the only permit is taken for as long as this block lasts
        response = await client.get("/students")
        problem = assert_problem(response, 503)
        assert problem["type"] == "/problems/overloaded"
        assert response.headers["retry-after"] == "1"
    assert (await client.get("/students")).status_code == 200  # the permit came back
