from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.errors import install as install_error_handlers
from scheduler.flat import Flat, flatten
from scheduler.jobs import JobManager, default_manager
from scheduler.models import MAX_SETUPS, MAX_SETUPS_IN_ALL, MAX_WINDOWS, Problem, SolveOptions
from scheduler.readers import read_jsp
from scheduler.routes import job_owner, router
from tests.scheduler.conftest import FT06


def _app(manager: JobManager, owner_said: bool = True) -> FastAPI:
    """The router mounted alone, by an app of no accounts (every job is everyone's) that says
    so, or (`owner_said` False) one that says nothing of whose jobs a request reaches."""
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router, prefix="/api/v1/schedules")
    app.dependency_overrides[default_manager] = lambda: manager
    if owner_said:
        app.dependency_overrides[job_owner] = lambda: None
    return app


@pytest.fixture
def client() -> Iterator[TestClient]:
    manager = JobManager()
    app = _app(manager)
    with TestClient(app) as c:
        yield c
    manager.shutdown()


def body(time_limit: float = 2) -> dict[str, object]:
    return {
        "problem": read_jsp(FT06, "ft06").model_dump(),
        "options": {"time_limit": time_limit, "workers": 2},
    }


def wait(client: TestClient, job_id: str, timeout: float = 20) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view: dict[str, object] = client.get(f"/api/v1/schedules/{job_id}").json()
        if view["status"] in ("done", "failed", "cancelled"):
            return view
        time.sleep(0.05)
    raise AssertionError("job did not finish")


def test_post_runs_in_background_and_get_returns_the_result(client: TestClient) -> None:
    r = client.post("/api/v1/schedules", json=body())
    assert r.status_code == 202
    job = r.json()
    assert job["status"] in ("queued", "running")
    view = wait(client, job["id"])
    assert view["status"] == "done" and view["progress"] == 1.0
    result = view["result"]
    assert isinstance(result, dict) and result["makespan"] == 55
    assert view["best_makespan"] == 55


def test_a_job_makes_the_index_form_once(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Made to check the problem before the 202, and used by the job: at plant size it takes
    # a tenth of a second or more, in the time limit.
    from scheduler import jobs, solver

    made: list[object] = []

    def counted(p: Problem) -> Flat:
        made.append(p)
        return flatten(p)

    monkeypatch.setattr(jobs, "flatten", counted)
    monkeypatch.setattr(solver, "flatten", counted)
    job = client.post("/api/v1/schedules", json=body(time_limit=1)).json()
    assert wait(client, job["id"])["status"] == "done"
    assert len(made) == 1


def test_cancel_keeps_the_best_so_far(client: TestClient) -> None:
    slow = body(time_limit=60)
    first = client.post("/api/v1/schedules", json=slow).json()
    queued = client.post("/api/v1/schedules", json=slow).json()
    assert client.delete(f"/api/v1/schedules/{queued['id']}").status_code == 200
    assert client.post(f"/api/v1/schedules/{first['id']}/cancel").status_code == 200
    assert wait(client, queued["id"])["status"] == "cancelled"
    view = wait(client, first["id"])
    assert view["status"] == "cancelled"


def test_unknown_job_is_404(client: TestClient) -> None:
    missing = client.get("/api/v1/schedules/nope")
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found", "message": "no scheduling job 'nope'"}
    assert client.delete("/api/v1/schedules/nope").status_code == 404


def test_bad_problem_is_422(client: TestClient) -> None:
    r = client.post("/api/v1/schedules", json={"problem": {"machines": [], "orders": []}})
    assert r.status_code == 422 and r.json()["error"] == "invalid_request", r.text
    assert [e["field"] for e in r.json()["errors"]] == [
        "body.problem.machines",
        "body.problem.orders",
    ]


def test_a_full_queue_refuses_more_jobs() -> None:
    manager = JobManager(max_open=2)
    app = _app(manager)
    slow = body(time_limit=60)
    try:
        with TestClient(app) as busy:
            taken = [busy.post("/api/v1/schedules", json=slow).json()["id"] for _ in range(2)]
            refused = busy.post("/api/v1/schedules", json=slow)
            assert refused.status_code == 429
            assert refused.json()["error"] == "scheduler_busy"
            assert "2 scheduling jobs are queued or running" in refused.json()["message"]
            # A place frees when the running job reaches its 60 s limit at the latest.
            assert 1 <= int(refused.headers["Retry-After"]) <= 60
            busy.post(f"/api/v1/schedules/{taken[1]}/cancel")
            wait(busy, taken[1])
            again = busy.post("/api/v1/schedules", json=body())
            assert again.status_code == 202  # a cancelled job frees its place
            for job in (taken[0], again.json()["id"]):
                busy.post(f"/api/v1/schedules/{job}/cancel")
    finally:
        manager.shutdown()


def test_more_workers_than_cores_is_422(client: TestClient) -> None:
    many = body() | {"options": {"time_limit": 1, "workers": (os.cpu_count() or 1) + 1}}
    refused = client.post("/api/v1/schedules", json=many)
    assert refused.status_code == 422 and refused.json()["error"] == "invalid_problem"
    assert "cores" in refused.json()["message"]


def test_a_seed_cp_sat_cannot_take_is_422_and_its_bounds_solve(client: TestClient) -> None:
    problem = read_jsp(FT06, "ft06").model_dump()
    problem["orders"][0]["release"] = 1  # off the classic job shop's path: CP-SAT runs
    for seed in (2**31, -(2**31) - 1, 2**70):
        late = {"problem": problem, "options": {"time_limit": 1, "workers": 1, "seed": seed}}
        refused = client.post("/api/v1/schedules", json=late)
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == ["body.options.seed"]
    for seed in (2**31 - 1, -(2**31)):
        late = {"problem": problem, "options": {"time_limit": 1, "workers": 1, "seed": seed}}
        view = wait(client, client.post("/api/v1/schedules", json=late).json()["id"])
        assert view["status"] == "done" and view["error"] is None, view["error"]


def test_too_many_machines_or_operations_are_422_naming_the_field(client: TestClient) -> None:
    problem = read_jsp(FT06, "ft06").model_dump()
    many = problem | {"machines": [{"id": f"m{k}"} for k in range(1001)]}
    refused = client.post("/api/v1/schedules", json={"problem": many})
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["body.problem.machines"]
    step = {"alternatives": [{"machine": "m0", "unit_time": 1}]}
    long = [{"id": f"o{j}", "operations": [step] * 10_001} for j in range(2)]
    refused = client.post("/api/v1/schedules", json={"problem": problem | {"orders": long}})
    assert refused.status_code == 422, refused.text
    assert "20,002 operations in all, at most 20,000" in refused.json()["message"]


@pytest.mark.parametrize("field", ["unavailable", "shifts"])
def test_too_many_windows_on_a_machine_are_422_naming_the_field(
    client: TestClient, field: str
) -> None:
    problem = read_jsp(FT06, "ft06").model_dump()
    problem["machines"][2][field] = [{"start": 2 * i, "end": 2 * i + 1} for i in range(10_001)]
    refused = client.post("/api/v1/schedules", json={"problem": problem})
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == [f"body.problem.machines.2.{field}"]
    assert "at most 10000" in refused.json()["message"]


def test_too_many_windows_in_all_are_422_naming_the_total(client: TestClient) -> None:
    # Each machine keeps to its own 10,000; together they are one more than a problem may have.
    problem = read_jsp(FT06, "ft06").model_dump()
    closed = [{"start": 2 * i, "end": 2 * i + 1} for i in range(MAX_WINDOWS)]
    for k, machine in enumerate(problem["machines"]):
        machine["unavailable" if k % 2 else "shifts"] = closed
    extra = [{"id": f"x{k}", "unavailable": closed} for k in range(4)]
    extra.append({"id": "x4", "shifts": closed[:1]})
    many = problem | {"machines": problem["machines"] + extra}
    refused = client.post("/api/v1/schedules", json={"problem": many})
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["body.problem"]
    message = refused.json()["message"]
    assert "100,001 shifts and unavailable windows in all, at most 100,000" in message
    del extra[-1]  # the cap itself is allowed
    assert Problem.model_validate(problem | {"machines": problem["machines"] + extra})


def test_too_many_set_up_entries_of_an_operation_are_422_naming_the_field(
    client: TestClient,
) -> None:
    problem = read_jsp(FT06, "ft06").model_dump()
    problem["orders"][1]["operations"][3]["setup"] = {f"F{k}": 5 for k in range(MAX_SETUPS + 1)}
    refused = client.post("/api/v1/schedules", json={"problem": problem})
    assert refused.status_code == 422, refused.text
    fields = [e["field"] for e in refused.json()["errors"]]
    assert fields == ["body.problem.orders.1.operations.3.setup"]
    assert f"at most {MAX_SETUPS}" in refused.json()["message"]


def test_too_many_set_up_entries_in_all_are_422_naming_the_total(client: TestClient) -> None:
    # Each operation keeps to its own limit; together they are one more than a problem may have.
    problem = read_jsp(FT06, "ft06").model_dump()
    table = {f"F{k}": 5 for k in range(MAX_SETUPS)}
    full, left = divmod(MAX_SETUPS_IN_ALL, MAX_SETUPS)
    tables = [table] * full + [dict(list(table.items())[: left + 1])]
    step = {"alternatives": [{"machine": "m0", "unit_time": 1}]}
    extra = [{"id": f"x{k}", "operations": [step | {"setup": t}]} for k, t in enumerate(tables)]
    many = problem | {"orders": problem["orders"] + extra}
    refused = client.post("/api/v1/schedules", json={"problem": many})
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["body.problem"]
    message = refused.json()["message"]
    assert (
        f"{MAX_SETUPS_IN_ALL + 1:,} set-up entries in all, at most {MAX_SETUPS_IN_ALL:,}" in message
    )
    extra[-1]["operations"][0]["setup"].popitem()  # the cap itself is allowed
    assert Problem.model_validate(many)


@pytest.mark.parametrize(
    ("path", "longest"),
    [
        (("name",), 2000),
        (("machines", 1, "id"), 200),
        (("machines", 1, "unavailable", 0, "reason"), 2000),
        (("orders", 0, "id"), 200),
        (("orders", 0, "family"), 200),
        (("orders", 0, "operations", 0, "id"), 200),
    ],
)
def test_names_and_text_past_their_length_are_422_naming_the_field(
    client: TestClient, path: tuple[str | int, ...], longest: int
) -> None:
    for length, accepted in ((longest, True), (longest + 1, False)):
        problem = read_jsp(FT06, "ft06").model_dump()
        problem["machines"][1]["unavailable"] = [{"start": 500, "end": 510}]
        text = "m" * length
        *to, last = path
        node: Any = problem
        for step in to:
            node = node[step]
        node[last] = text
        for alt in (
            a for o in problem["orders"] for op in o["operations"] for a in op["alternatives"]
        ):
            if path == ("machines", 1, "id") and alt["machine"] == "m1":
                alt["machine"] = text
        options = {"time_limit": 0.1, "workers": 1}
        sent = client.post("/api/v1/schedules", json={"problem": problem, "options": options})
        if accepted:
            assert sent.status_code == 202, sent.text
            client.post(f"/api/v1/schedules/{sent.json()['id']}/cancel")
        else:
            assert sent.status_code == 422, sent.text
            # A machine's id is named first, then each alternative that names it.
            first = sent.json()["errors"][0]
            assert first["field"] == ".".join(map(str, ("body", "problem", *path)))
            assert f"at most {longest} characters" in first["message"]


def test_a_misspelt_key_is_422_naming_it(client: TestClient) -> None:
    misspelt = {"problem": body()["problem"], "option": {"time_limit": 0.1}}
    refused = client.post("/api/v1/schedules", json=misspelt)
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["body.option"]


def test_a_negative_now_is_422_naming_now(client: TestClient) -> None:
    problem = read_jsp(FT06, "ft06").model_dump() | {"now": -1}
    refused = client.post("/api/v1/schedules", json={"problem": problem})
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["body.problem.now"]


def test_a_repeated_machine_id_is_422_naming_the_id(client: TestClient) -> None:
    problem = read_jsp(FT06, "ft06").model_dump()
    problem["machines"].append({"id": "m0"})
    refused = client.post("/api/v1/schedules", json={"problem": problem})
    assert refused.status_code == 422 and refused.json()["error"] == "invalid_request"
    [error] = refused.json()["errors"]
    assert error["field"] == "body.problem.machines"
    # A check of the model's own reads as written, without pydantic's "Value error, " before it.
    assert error["message"] == "ids must be unique: 'm0' at 0 and 6"
    assert refused.json()["message"] == (
        "invalid request: body.problem.machines: ids must be unique: 'm0' at 0 and 6"
    )


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('{"problem": {}, "problem": {}}', "duplicate_key"),
        (
            '{"problem": {"machines": [], "orders": []}, "options": {"time_limit": NaN}}',
            "not_a_number",
        ),
        (
            '{"problem": {"machines": [], "orders": []},'
            ' "options": {"time_limit": 0.1000000000000000000001}}',
            "not_exact",
        ),
        ("[" * 100_000, "too_deep"),
        ("{", "not_json"),
        (b'{"problem": "\\xff"}', "not_json"),
    ],
)
def test_a_body_is_read_as_strictly_as_every_other(
    client: TestClient, text: str | bytes, code: str
) -> None:
    # Read as its last value or rounded, the job would run on what the planner did not send.
    content = text.encode() if isinstance(text, str) else text.replace(b"\\xff", b"\xff")
    refused = client.post(
        "/api/v1/schedules", content=content, headers={"content-type": "application/json"}
    )
    assert refused.status_code == 422, refused.text
    (error,) = refused.json()["errors"]
    assert error["field"] == "body" and error["code"] == code, error


def test_an_app_that_says_no_job_owner_reaches_no_job() -> None:
    manager = JobManager()
    try:
        with TestClient(_app(manager, owner_said=False), raise_server_exceptions=False) as c:
            assert c.post("/api/v1/schedules", json=body()).status_code == 500
            job = manager.submit(read_jsp(FT06, "ft06"), SolveOptions(time_limit=1, workers=1))
            assert c.get(f"/api/v1/schedules/{job.id}").status_code == 500
    finally:
        manager.shutdown()


def test_a_number_sent_as_text_or_true_is_422_naming_the_field(client: TestClient) -> None:
    # Read laxly, "3" and true were planned as 3 and 1 time units.
    sent = body(time_limit=0.1)
    problem: Any = sent["problem"]
    problem["orders"][2]["operations"][0]["alternatives"][0]["unit_time"] = "3"
    problem["orders"][0]["due"] = True
    sent["options"] = {"time_limit": "0.1", "workers": 1}
    refused = client.post("/api/v1/schedules", json=sent)
    assert refused.status_code == 422, refused.text
    said = {(e["field"], e["code"], e["message"]) for e in refused.json()["errors"]}
    assert said == {
        ("body.problem.orders.0.due", "int_type", "expected an integer, got true"),
        (
            "body.problem.orders.2.operations.0.alternatives.0.unit_time",
            "int_type",
            "expected an integer, got a string",
        ),
        ("body.options.time_limit", "float_type", "expected a number, got a string"),
    }
