"""The scheduler's REST jobs are for the plant's planners, and its inputs are bounded."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.deps import Services
from scheduler.readers import read_jsp
from tests.api.conftest import login
from tests.scheduler.conftest import FT06

SCHEDULES = "/api/v1/schedules"


def job(**options: Any) -> dict[str, Any]:
    problem = read_jsp(FT06, "ft06").model_dump()
    return {"problem": problem, "options": {"time_limit": 0.5, "workers": 1, **options}}


def test_scheduling_needs_a_login(client: TestClient) -> None:
    assert client.post(SCHEDULES, json=job()).status_code == 401
    assert client.get(f"{SCHEDULES}/anything").status_code == 401


@pytest.mark.parametrize("role", ["operator", "supplier", "customer"])
def test_only_planners_schedule(client: TestClient, role: str) -> None:
    response = client.post(SCHEDULES, json=job(), headers=login(client, role))
    assert response.status_code == 403


def test_a_planner_schedules(client: TestClient) -> None:
    headers = login(client, "analyst")
    accepted = client.post(SCHEDULES, json=job(), headers=headers)
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["id"]
    assert client.get(f"{SCHEDULES}/{job_id}", headers=headers).status_code == 200
    client.post(f"{SCHEDULES}/{job_id}/cancel", headers=headers)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"options": {"time_limit": 1e9}}, "time_limit"),
        ({"release": 10**30}, "release"),
        ({"unit_time": 10**13}, "unit_time"),
        ({"quantity": 10**9}, "quantity"),
    ],
)
def test_unbounded_inputs_are_refused(
    client: TestClient, change: dict[str, Any], field: str
) -> None:
    body = job()
    if "options" in change:
        body["options"].update(change["options"])
    elif "release" in change or "quantity" in change:
        body["problem"]["orders"][0].update(change)
    else:
        body["problem"]["orders"][0]["operations"][0]["alternatives"][0].update(change)
    response = client.post(SCHEDULES, json=body, headers=login(client, "analyst"))
    assert response.status_code == 422, response.text
    assert field in response.text


def test_a_job_is_its_planners_and_the_admins(client: TestClient, services: Services) -> None:
    # Another analyst, who did not submit it, reads it as a job that does not exist: nor may
    # they cancel a colleague's solve. An admin, who answers for the queue, may do both.
    services.auth.add_user("bea", "another analyst pass", "analyst")
    token = client.post(
        "/api/v1/auth/token", data={"username": "bea", "password": "another analyst pass"}
    ).json()["access_token"]
    other = {"Authorization": f"Bearer {token}"}
    ana, admin = login(client, "analyst"), login(client, "admin")
    job_id = client.post(SCHEDULES, json=job(time_limit=30), headers=ana).json()["id"]
    try:
        for answer in (
            client.get(f"{SCHEDULES}/{job_id}", headers=other),
            client.delete(f"{SCHEDULES}/{job_id}", headers=other),
            client.post(f"{SCHEDULES}/{job_id}/cancel", headers=other),
        ):
            assert answer.status_code == 404, answer.text
            assert answer.json() == {
                "error": "not_found",
                "message": f"no scheduling job {job_id!r}",
            }
        assert client.get(f"{SCHEDULES}/{job_id}", headers=ana).json()["status"] != "cancelled"
        assert client.get(f"{SCHEDULES}/{job_id}", headers=admin).status_code == 200
        mine = client.post(SCHEDULES, json=job(time_limit=30), headers=other).json()["id"]
        assert client.get(f"{SCHEDULES}/{mine}", headers=other).status_code == 200
        assert client.post(f"{SCHEDULES}/{mine}/cancel", headers=admin).status_code == 200
    finally:
        client.post(f"{SCHEDULES}/{job_id}/cancel", headers=ana)
