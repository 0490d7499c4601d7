"""API clients for the fault tests: a registrar (lodges, examines) and a supervisor's session
(approves) transferring titles back and forth, as in ``bench/locustfile.py``, but retrying
what the server says may be retried, and noting every answer.

A 503 must carry ``Retry-After`` and a JSON body naming its rule; no answer at all is
expected only while the server itself is down. Anything else unexpected is a problem.
"""

import collections
import datetime
import itertools
import threading
import time

import requests

RETRY_PAUSE_S = 0.3  # sooner than Retry-After: the tests restart things in about a second
GIVE_UP_AFTER_S = 90


class Registrar:
    def __init__(self, base: str, account: dict):
        self.base = base
        self.account = account
        self.answers: collections.Counter[str] = collections.Counter()
        self.unavailable_rules: collections.Counter[str] = collections.Counter()
        self.problems: list[str] = []
        self.registered: list[int] = []
        self.clerk = requests.Session()
        self.supervisor = requests.Session()

    # --- one request, retried ----------------------------------------------------------

    def call(self, session: requests.Session, method: str, path: str, **kwargs):
        deadline = time.monotonic() + GIVE_UP_AFTER_S
        while time.monotonic() < deadline:
            headers = {
                "X-CSRFToken": session.cookies.get("csrftoken", ""),
                "Referer": self.base + "/",
                "Accept": "application/json",
            }
            try:
                response = session.request(
                    method, self.base + path, headers=headers, timeout=60, **kwargs
                )
            except requests.ConnectionError:
                self.answers["no answer"] += 1
                time.sleep(RETRY_PAUSE_S)
                continue
            self.answers[str(response.status_code)] += 1
            if response.status_code == 503:
                self._check_unavailable(path, response)
                time.sleep(RETRY_PAUSE_S)
                continue
            if response.status_code >= 500:
                self.problems.append(f"{method} {path}: {response.status_code}")
            return response
        self.problems.append(f"{method} {path}: no answer for {GIVE_UP_AFTER_S} s")
        return None

    def _check_unavailable(self, path: str, response) -> None:
        if not response.headers.get("Retry-After", "").isdigit():
            self.problems.append(f"{path}: 503 without Retry-After")
        try:
            rule = response.json()["rule"]
        except (ValueError, KeyError, TypeError):
            self.problems.append(f"{path}: 503 without a JSON rule: {response.text[:200]}")
            return
        self.unavailable_rules[rule] += 1

    # --- the registrar's work -----------------------------------------------------------

    def log_in(self) -> None:
        for session, username, password in (
            (self.clerk, self.account["username"], self.account["password"]),
            (self.supervisor, self.account["supervisor"], self.account["supervisor_password"]),
        ):
            self._log_in(session, username, password)

    def _log_in(self, session: requests.Session, username: str, password: str) -> None:
        """The login form; tried again from the start if the database failed in between
        (a login whose answer was lost may have rotated the CSRF token)."""
        answer = None
        for _ in range(10):
            self.call(session, "GET", "/accounts/login/")
            answer = self.call(
                session,
                "POST",
                "/accounts/login/",
                data={
                    "username": username,
                    "password": password,
                    "csrfmiddlewaretoken": session.cookies.get("csrftoken", ""),
                },
                allow_redirects=False,
            )
            if answer is not None and answer.status_code == 302:
                return
            time.sleep(RETRY_PAUSE_S)
        status = answer.status_code if answer is not None else "no answer"
        self.problems.append(f"{username} could not log in ({status})")

    def transfer(self, title_id: int, parties: list[int]) -> None:
        """Lodge, examine and approve one transfer of the title to the party not holding it."""
        answer = self.call(self.clerk, "GET", f"/api/titles/{title_id}/")
        if answer is None or answer.status_code != 200:
            return self._unexpected("read the title", answer)
        title = answer.json()
        (right,) = [
            right
            for right in title["rights"]
            if right["kind"] == "land_use_right" and right["valid_to"] is None
        ]
        (holder,) = [share["party_id"] for share in right["holders"]]
        buyer = parties[1] if holder == parties[0] else parties[0]
        lodged = self.call(
            self.clerk,
            "POST",
            "/api/acts/",
            json={
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
        )
        if lodged is None or lodged.status_code != 201:
            return self._unexpected("lodge", lodged)
        act_id = lodged.json()["id"]
        examined = self.call(self.clerk, "POST", f"/api/acts/{act_id}/examine/", json={})
        if examined is not None and examined.status_code == 409:
            # As for approval below: a retried step whose first attempt went through.
            examined = self.call(self.clerk, "GET", f"/api/acts/{act_id}/")
            if examined is not None and examined.json()["status"] != "examined":
                return self._unexpected("examine", examined)
        if examined is None or examined.status_code != 200:
            return self._unexpected("examine", examined)
        approved = self.call(self.supervisor, "POST", f"/api/acts/{act_id}/approve/")
        if approved is not None and approved.status_code == 409:
            # A retried approval whose first attempt was registered before the answer was
            # lost: the act says so.
            approved = self.call(self.supervisor, "GET", f"/api/acts/{act_id}/")
        if approved is None or approved.status_code != 200:
            return self._unexpected("approve", approved)
        if approved.json()["status"] == "registered":
            self.registered.append(act_id)
        else:
            self.problems.append(f"act {act_id} is {approved.json()['status']} after approval")

    def _unexpected(self, step: str, response) -> None:
        if response is not None:
            self.problems.append(f"{step}: {response.status_code} {response.text[:200]}")

    def work(self, stop: threading.Event) -> None:
        self.log_in()
        for title_id, parties in itertools.cycle(self.account["titles"]):
            if stop.is_set():
                return
            self.transfer(title_id, parties)


class Crowd:
    """Registrars working in threads until stopped."""

    def __init__(self, base: str, plan: dict):
        self.registrars = [Registrar(base, account) for account in plan["registrars"]]
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=registrar.work, args=(self.stop,), daemon=True)
            for registrar in self.registrars
        ]

    def __enter__(self) -> "Crowd":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=GIVE_UP_AFTER_S + 30)

    @property
    def registered(self) -> list[int]:
        return [act for registrar in self.registrars for act in registrar.registered]

    @property
    def problems(self) -> list[str]:
        return [problem for registrar in self.registrars for problem in registrar.problems]

    def answers(self) -> collections.Counter:
        return sum((registrar.answers for registrar in self.registrars), collections.Counter())

    def unavailable_rules(self) -> collections.Counter:
        return sum(
            (registrar.unavailable_rules for registrar in self.registrars), collections.Counter()
        )

    def wait_for(self, more: int, timeout_s: float = 120) -> None:
        """Until ``more`` further acts are registered."""
        target = len(self.registered) + more
        deadline = time.monotonic() + timeout_s
        while len(self.registered) < target:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"only {len(self.registered)} of {target} acts registered; "
                    f"problems: {self.problems[:5]}"
                )
            time.sleep(0.1)
