"""Mixed traffic for the load test (run by ``bench/load_test.py``, never on its own target).

Two kinds of user, logged in through the login form like a person:

- **registrars** (one per registrar account in the plan): transfer their own titles back
  and forth through the API, lodge → examine (as the registrar) → approve (as a
  supervisor's session), and note each act that came back registered;
- **readers** (planners, auditors, civil-defence officers): vector tiles, OGC API reads,
  searches (API, map, desk) and as-of queries.

The plan (accounts, titles, tiles, codes) is a JSON file named by ``LOAD_PLAN``; the ids of
the acts registered are written, one per line, to ``LOAD_ACTS_OUT`` when the run stops.
Any answer other than the one expected counts as a failure in locust's figures.
"""

import datetime
import itertools
import json
import os
import random

from locust import HttpUser, between, events, task
from locust.clients import HttpSession

PLAN = json.loads(open(os.environ["LOAD_PLAN"], encoding="utf-8").read())
REGISTERED: list[int] = []
_registrar_numbers = itertools.count()
_reader_numbers = itertools.count()


def log_in(session: HttpSession, username: str, password: str) -> None:
    """The login form, as a browser fills it (CSRF token from the form's cookie)."""
    session.get("/accounts/login/", name="/accounts/login/")
    token = session.cookies.get("csrftoken", "")
    with session.post(
        "/accounts/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": session.base_url + "/accounts/login/"},
        name="/accounts/login/ (POST)",
        catch_response=True,
    ) as response:
        if "sessionid" not in session.cookies:
            response.failure(f"{username} could not log in ({response.status_code})")


def failure(response) -> str:
    """What went wrong: the status and body, or the exception when nothing came back."""
    if response.status_code == 0:
        return f"no answer: {response.error!r}"
    return f"{response.status_code}: {response.text[:300]}"


def post_json(session: HttpSession, path: str, body: dict | None, name: str, expect: int):
    """A JSON POST with the CSRF header Django wants from a logged-in session."""
    headers = {
        "X-CSRFToken": session.cookies.get("csrftoken", ""),
        "Referer": session.base_url + "/",
    }
    with session.post(path, json=body, headers=headers, name=name, catch_response=True) as response:
        if response.status_code != expect:
            response.failure(failure(response))
            return None
        return response.json()


@events.quitting.add_listener
def write_registered(environment, **_kwargs) -> None:
    with open(os.environ["LOAD_ACTS_OUT"], "w", encoding="utf-8") as out:
        out.writelines(f"{act_id}\n" for act_id in REGISTERED)


class Registrar(HttpUser):
    """One registrar with its own titles, and a supervisor's session to approve with."""

    fixed_count = len(PLAN["registrars"])
    wait_time = between(0.2, 1.0)

    def on_start(self) -> None:
        self.account = PLAN["registrars"][next(_registrar_numbers) % len(PLAN["registrars"])]
        self.titles = itertools.cycle(self.account["titles"])
        log_in(self.client, self.account["username"], self.account["password"])
        self.supervisor = HttpSession(
            base_url=self.host, request_event=self.environment.events.request, user=self
        )
        log_in(self.supervisor, self.account["supervisor"], self.account["supervisor_password"])

    @task
    def transfer(self) -> None:
        title_id, parties = next(self.titles)
        with self.client.get(
            f"/api/titles/{title_id}/", name="/api/titles/[id]/", catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(failure(response))
                return
            title = response.json()
        (right,) = [
            right
            for right in title["rights"]
            if right["kind"] == "land_use_right" and right["valid_to"] is None
        ]
        (holder,) = [share["party_id"] for share in right["holders"]]
        buyer = parties[1] if holder == parties[0] else parties[0]
        act = post_json(
            self.client,
            "/api/acts/",
            {
                "act_type": "transfer",
                "titles": [title_id],
                "based_on_versions": {str(title_id): title["title"]["version"]},
                "effective_date": datetime.date.today().isoformat(),
                "payload": {
                    "right": right["id"],
                    "transferors": [holder],
                    "holders": [{"party": buyer, "parts": 1}],
                    "share_denominator": 1,
                },
            },
            name="/api/acts/ (lodge)",
            expect=201,
        )
        if act is None:
            return
        act_id = act["id"]
        if (
            post_json(
                self.client,
                f"/api/acts/{act_id}/examine/",
                {"note": "load test"},
                name="/api/acts/[id]/examine/",
                expect=200,
            )
            is None
        ):
            return
        approved = post_json(
            self.supervisor,
            f"/api/acts/{act_id}/approve/",
            None,
            name="/api/acts/[id]/approve/",
            expect=200,
        )
        if approved is not None and approved["status"] == "registered":
            REGISTERED.append(act_id)


class Reader(HttpUser):
    """Planners, auditors and civil-defence officers reading maps, the OGC API and titles."""

    fixed_count = len(PLAN["readers"])
    wait_time = between(0.1, 0.8)

    def on_start(self) -> None:
        account = PLAN["readers"][next(_reader_numbers) % len(PLAN["readers"])]
        self.role = account["role"]
        log_in(self.client, account["username"], account["password"])

    def get(self, path: str, name: str, params: dict | None = None, expect=(200,)) -> None:
        with self.client.get(path, params=params, name=name, catch_response=True) as response:
            if response.status_code in expect:
                response.success()  # a 404 expected here is not an error to locust either
            else:
                response.failure(failure(response))

    @task(6)
    def tile(self) -> None:
        z, x, y = random.choice(PLAN["tiles"])
        layer = (
            "shelters"
            if self.role == "civil_defence_officer"
            else random.choice(["parcels", "buildings", "zoning"])
        )
        params = {"as_of": random.choice(PLAN["dates"])} if random.random() < 0.3 else None
        # 204: a tile with nothing in it; 304 never comes (no If-None-Match is sent).
        self.get(
            f"/tiles/{layer}/{z}/{x}/{y}.pbf",
            "/tiles/[layer]/[z]/[x]/[y].pbf",
            params,
            expect=(200, 204),
        )

    @task(3)
    def ogc_items(self) -> None:
        collection = "shelters" if self.role == "civil_defence_officer" else "parcels"
        params = {
            "f": "json",
            "limit": 50,
            "bbox": ",".join(map(str, random.choice(PLAN["bboxes"]))),
        }
        if random.random() < 0.3:
            params["datetime"] = random.choice(PLAN["dates"])
        self.get(f"/ogc/collections/{collection}/items", "/ogc/collections/[id]/items", params)

    @task(1)
    def ogc_collections(self) -> None:
        self.get("/ogc/collections", "/ogc/collections", {"f": "json"})

    @task(2)
    def map_search(self) -> None:
        self.get("/map/search/", "/map/search/", {"q": random.choice(PLAN["search_terms"])})

    @task(2)
    def title_search(self) -> None:
        if self.role == "civil_defence_officer":
            return
        self.get("/api/titles/", "/api/titles/?q=", {"q": random.choice(PLAN["search_terms"])})

    @task(1)
    def desk_search(self) -> None:
        if self.role != "auditor":
            return
        self.get("/registry/", "/registry/?q=", {"q": random.choice(PLAN["search_terms"])})

    @task(2)
    def title_as_of(self) -> None:
        if self.role == "civil_defence_officer":
            return
        title_id = random.choice(PLAN["read_titles"])
        self.get(
            f"/api/titles/{title_id}/",
            "/api/titles/[id]/?as_of=",
            {"as_of": random.choice(PLAN["dates"])},
        )

    @task(2)
    def parcel_as_of(self) -> None:
        if self.role == "civil_defence_officer":
            return
        code = random.choice(PLAN["parcels"])
        # 404 is the answer for a date the parcel did not exist on, saying when it did.
        self.get(
            f"/api/parcels/{code}/",
            "/api/parcels/[code]/?as_of=",
            {"as_of": random.choice(PLAN["dates"])},
            expect=(200, 404),
        )
