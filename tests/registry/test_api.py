"""The register's REST API: each endpoint, the register's refusals as HTTP statuses with the
rule and message, bad input naming the field, and the OpenAPI schema and docs."""

import base64
import datetime
import hashlib
import io
import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from drf_spectacular.validation import validate_schema

from registry.models import (
    ActStatus,
    AuditEvent,
    Certificate,
    JournalEntry,
    Parcel,
    RegistrationAct,
    Right,
    RightKind,
    SecurityLevel,
)
from registry.roles import Role
from registry.services.acts import examine_act, lodge_act, title_of
from tests.registry import factories
from tests.registry.register import (
    day,
    holders,
    land_use_right,
    parcel_with_title,
    party,
    register,
    split_in_halves,
    transfer_chain,
    user,
)

pytestmark = pytest.mark.django_db

API_PATHS = [
    "/api/titles/",
    "/api/titles/{title_id}/",
    "/api/titles/{title_id}/chain/",
    "/api/parcels/at/",
    "/api/parcels/{unit_code}/",
    "/api/parcels/{unit_code}/lineage/",
    "/api/acts/",
    "/api/acts/{act_id}/",
    "/api/acts/{act_id}/examine/",
    "/api/acts/{act_id}/approve/",
    "/api/acts/{act_id}/reject/",
]


def logged_in(who) -> Client:
    """A client with a session for a role's test user (or the given user)."""
    client = Client()
    client.force_login(user(who) if isinstance(who, Role) else who)
    return client


def post(client: Client, url: str, body=None):
    return client.post(url, body if body is not None else {}, content_type="application/json")


def snapshot(title) -> tuple:
    """What a refused act must not change."""
    title.refresh_from_db()
    return (
        title.version,
        sorted(Right.objects.filter(title=title).values_list("id", "valid_to", "cancelled_by")),
        JournalEntry.objects.count(),
        Certificate.objects.count(),
    )


def lodge_body(title, act_type: str, payload: dict, on: str = "2024-06-01", **extra) -> dict:
    return {
        "act_type": act_type,
        "titles": [title.pk],
        "based_on_versions": {str(title.pk): title.version},
        "effective_date": on,
        "payload": payload,
        **extra,
    }


def lodged_and_examined(title, act_type: str, payload: dict, on: str = "2024-06-01") -> int:
    """Lodge and examine through the API as the registrar; returns the act's id."""
    registrar = logged_in(Role.REGISTRAR)
    title.refresh_from_db()
    response = post(registrar, "/api/acts/", lodge_body(title, act_type, payload, on))
    assert response.status_code == 201, response.json()
    act_id = response.json()["id"]
    assert post(registrar, f"/api/acts/{act_id}/examine/").status_code == 200
    return act_id


def refused_on_approval(title, act_type: str, payload: dict) -> dict:
    """Show that approving the act answers 400 and leaves the register as it was."""
    act_id = lodged_and_examined(title, act_type, payload)
    before = snapshot(title)
    response = post(logged_in(Role.SUPERVISOR), f"/api/acts/{act_id}/approve/")
    assert response.status_code == 400
    assert snapshot(title) == before
    assert RegistrationAct.objects.get(pk=act_id).status == ActStatus.EXAMINED
    return response.json()


# --- titles -----------------------------------------------------------------------------


def test_search_finds_titles_by_unit_code_and_by_holder():
    parcel, title = parcel_with_title(geom=factories.square(x=116.901))
    land_use_right(title, party("国家机关事务管理局 API"))
    client = logged_in(Role.PLANNER)
    by_code = client.get("/api/titles/", {"q": parcel.unit_code})
    assert by_code.status_code == 200
    assert [row["id"] for row in by_code.json()] == [title.pk]
    row = by_code.json()[0]
    assert row["unit_type"] == "parcel"
    assert row["unit_code"] == row["label"] == parcel.unit_code
    by_holder = client.get("/api/titles/", {"q": "管理局 api"})
    assert title.pk in [row["id"] for row in by_holder.json()]


def test_search_without_a_query_finds_nothing_and_a_bad_limit_is_named():
    client = logged_in(Role.PLANNER)
    assert client.get("/api/titles/").json() == []
    response = client.get("/api/titles/", {"q": "1", "limit": "many"})
    assert response.status_code == 400
    assert response.json()["rule"] == "invalid_input"
    assert response.json()["message"].startswith("limit:")


def test_title_detail_shows_current_rights_and_holders_and_is_audited():
    _, title = parcel_with_title(geom=factories.square(x=116.902))
    a, b = party("A"), party("B")
    right = land_use_right(title, a, b, parts=[1, 2])
    auditor = user(Role.AUDITOR)
    response = logged_in(auditor).get(f"/api/titles/{title.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body["title"]["id"] == title.pk
    assert body["title"]["version"] == 2
    (shown,) = body["rights"]
    assert (shown["id"], shown["kind"], shown["land_use_right_type"]) == (
        right.pk,
        "land_use_right",
        "allocated",
    )
    assert shown["registered_by_number"] == right.registered_by.number
    assert sorted((h["party"], h["share"]) for h in shown["holders"]) == [
        ("A", "1/3"),
        ("B", "2/3"),
    ]
    assert sorted((h["party"], h["share"]) for h in body["holders"]) == [("A", "1/3"), ("B", "2/3")]
    event = AuditEvent.objects.filter(object_type="title", object_id=str(title.pk)).first()
    assert (event.user, event.action) == (auditor, "read")


def test_title_as_of_gives_the_holder_before_between_and_after_two_transfers():
    _, title = parcel_with_title(geom=factories.square(x=116.903))
    transfer_chain(title)
    client = logged_in(Role.REGISTRAR)

    def holders_on(as_of: str | None) -> list[str]:
        params = {"as_of": as_of} if as_of else {}
        response = client.get(f"/api/titles/{title.pk}/", params)
        assert response.status_code == 200
        body = response.json()
        if as_of:
            assert body["as_of"] == as_of
        return [h["party"] for h in body["holders"] if h["kind"] == "land_use_right"]

    assert holders_on("2023-12-31") == []
    assert holders_on("2024-01-01") == ["A"]
    assert holders_on("2024-05-31") == ["A"]
    assert holders_on("2024-06-01") == ["B"]
    assert holders_on("2024-12-31") == ["B"]
    assert holders_on("2025-01-01") == ["C"]
    assert holders_on(None) == ["C"]


@pytest.mark.parametrize("as_of", ["2024-13-01", "yesterday", "2024-02-30"])
def test_a_bad_as_of_date_is_refused_naming_the_field(as_of):
    _, title = parcel_with_title(geom=factories.square(x=116.904))
    response = logged_in(Role.PLANNER).get(f"/api/titles/{title.pk}/", {"as_of": as_of})
    assert response.status_code == 400
    body = response.json()
    assert body["rule"] == "invalid_input"
    assert body["message"].startswith("as_of:")
    assert "YYYY-MM-DD" in body["message"]
    assert list(body["field_errors"]) == ["as_of"]


def test_unknown_title_is_404_with_the_register_error_shape():
    response = logged_in(Role.PLANNER).get("/api/titles/999999999/")
    assert response.status_code == 404
    assert response.json() == {"rule": "not_found", "title": "", "message": "no title 999999999"}


def test_chain_lists_the_registered_acts_in_order_with_their_rights():
    _, title = parcel_with_title(geom=factories.square(x=116.905))
    a, b = party("A"), party("B")
    right = land_use_right(title, a)
    register(
        "transfer", [title], {"right": right.pk, "transferors": [a.pk], **holders(b)}, "2024-06-01"
    )
    response = logged_in(Role.AUDITOR).get(f"/api/titles/{title.pk}/chain/")
    assert response.status_code == 200
    acts = response.json()["acts"]
    assert [act["act_type"] for act in acts] == ["first", "transfer"]
    assert [act["journal"]["position"] for act in acts] == sorted(
        act["journal"]["position"] for act in acts
    )
    first, transfer = acts
    assert first["rights_registered"][0]["holders"][0]["party"] == "A"
    assert transfer["rights_cancelled"] == [right.pk]
    assert transfer["rights_registered"][0]["holders"][0]["party"] == "B"
    assert AuditEvent.objects.filter(
        object_type="title", object_id=str(title.pk), action="read"
    ).exists()


# --- parcels ----------------------------------------------------------------------------


def test_parcel_is_a_geojson_feature_and_answers_as_of():
    parcel, title = parcel_with_title(geom=factories.square(x=116.906), name="API parcel")
    client = logged_in(Role.PLANNER)
    response = client.get(f"/api/parcels/{parcel.unit_code}/")
    assert response.status_code == 200
    feature = response.json()
    assert feature["type"] == "Feature"
    assert feature["id"] == parcel.unit_code
    assert feature["geometry"]["type"] == "MultiPolygon"
    assert feature["geometry"]["coordinates"][0][0][0] == pytest.approx([116.906, 39.91])
    properties = feature["properties"]
    assert properties["title"] == title.pk
    assert properties["name"] == "API parcel"
    assert properties["area_m2"] == pytest.approx(parcel.area_m2)
    assert properties["valid_from"] == "2024-01-01"

    before = client.get(f"/api/parcels/{parcel.unit_code}/", {"as_of": "2023-12-31"})
    assert before.status_code == 404
    assert "did not exist on 2023-12-31" in before.json()["message"]
    assert "from 2024-01-01 to date" in before.json()["message"]


def test_parcel_at_a_point_gives_the_holders_then_and_audits_the_reading():
    parcel, title = parcel_with_title(geom=factories.square(x=116.9085))
    neighbour, _ = parcel_with_title(geom=factories.square(x=116.9095))
    transfer_chain(title)
    registrar = user(Role.REGISTRAR)
    client = logged_in(registrar)
    inside = {"lon": 116.9087, "lat": 39.9102}

    def at(**params):
        response = client.get("/api/parcels/at/", {**inside, **params})
        assert response.status_code == 200, response.content
        return response.json()

    now = at()
    assert now["parcel"]["id"] == parcel.unit_code
    assert now["parcel"]["properties"]["title"] == title.pk
    assert [h["party"] for h in now["holders"]] == ["C"]
    assert [h["party"] for h in at(as_of="2024-06-01")["holders"]] == ["B"]
    assert at(as_of="2024-01-01")["holders"][0]["share"] == "1/1"
    neighbour_answer = client.get("/api/parcels/at/", {"lon": 116.9097, "lat": 39.9102}).json()
    assert neighbour_answer["parcel"]["id"] == neighbour.unit_code
    readings = AuditEvent.objects.filter(
        user=registrar, action="read", object_type="title", object_id=str(title.pk)
    )
    assert readings.count() == 3
    assert readings.order_by("id").last().detail == {
        "as_of": "2024-01-01",
        "at": [116.9087, 39.9102],
    }


def test_parcel_at_a_point_shows_no_holders_to_a_role_that_may_not_read_rights():
    _, title = parcel_with_title(geom=factories.square(x=116.9105))
    land_use_right(title, party("A"))
    response = logged_in(Role.CIVIL_DEFENCE).get(
        "/api/parcels/at/", {"lon": 116.9107, "lat": 39.9102}
    )
    assert response.status_code == 200
    assert "holders" not in response.json()
    assert not AuditEvent.objects.filter(object_type="title", object_id=str(title.pk)).exists()


def test_parcel_at_a_point_outside_any_parcel_or_before_it_existed_is_404():
    parcel_with_title(geom=factories.square(x=116.9115))
    client = logged_in(Role.PLANNER)
    empty = client.get("/api/parcels/at/", {"lon": 116.95, "lat": 10.0})
    assert empty.status_code == 404
    assert empty.json()["message"].startswith("no parcel covers 116.95, 10.0 on ")
    before = client.get(
        "/api/parcels/at/", {"lon": 116.9117, "lat": 39.9102, "as_of": "2023-12-31"}
    )
    assert before.status_code == 404
    assert before.json()["message"] == "no parcel covers 116.9117, 39.9102 on 2023-12-31"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lat": "39.9"}, "lon"),
        ({"lon": "181", "lat": "39.9"}, "lon"),
        ({"lon": "116.4", "lat": "-91"}, "lat"),
        ({"lon": "nan", "lat": "39.9"}, "lon"),
        ({"lon": "116.4", "lat": "inf"}, "lat"),
        ({"lon": "east", "lat": "39.9"}, "lon"),
        ({"lon": "116.4", "lat": "39.9", "as_of": "2024-02-30"}, "as_of"),
    ],
)
def test_parcel_at_a_point_refuses_a_bad_point_naming_the_field(params, field):
    response = logged_in(Role.PLANNER).get("/api/parcels/at/", params)
    assert response.status_code == 400
    assert list(response.json()["field_errors"]) == [field]


def test_unknown_or_malformed_unit_code_is_404_or_400():
    client = logged_in(Role.PLANNER)
    unknown = client.get("/api/parcels/110102001001GB99998W00000000/")
    assert unknown.status_code == 404
    assert unknown.json()["message"] == "no parcel has unit code 110102001001GB99998W00000000"
    malformed = client.get("/api/parcels/not-a-code/")
    assert malformed.status_code == 400
    assert malformed.json()["message"].startswith("unit_code: Unit code must have 28 characters")


def test_parcel_lineage_after_a_split_links_parent_and_children():
    parent, title = parcel_with_title(
        geom=factories.square(x=116.907), unit_code=factories.unit_code(61)
    )
    land_use_right(title, party("A"))
    (x0, y0, x1, y1) = parent.geom.extent
    middle = (x0 + x1) / 2
    west = {
        "type": "Polygon",
        "coordinates": [[[x0, y0], [middle, y0], [middle, y1], [x0, y1], [x0, y0]]],
    }
    east = {
        "type": "Polygon",
        "coordinates": [[[middle, y0], [x1, y0], [x1, y1], [middle, y1], [middle, y0]]],
    }
    register(
        "split",
        [title],
        {"children": [{"geometry": json.dumps(west)}, {"geometry": json.dumps(east)}]},
        "2024-06-01",
    )
    client = logged_in(Role.REGISTRAR)
    response = client.get(f"/api/parcels/{parent.unit_code}/lineage/")
    assert response.status_code == 200
    lineage = response.json()
    assert lineage["parcel"]["id"] == parent.unit_code
    assert lineage["parcel"]["properties"]["valid_to"] == "2024-06-01"
    assert lineage["parents"] == {"type": "FeatureCollection", "features": []}
    children = [feature["id"] for feature in lineage["children"]["features"]]
    assert len(children) == 2
    child = client.get(f"/api/parcels/{children[0]}/lineage/").json()
    assert [feature["id"] for feature in child["parents"]["features"]] == [parent.unit_code]
    # The retired parent is gone from today's register but still readable on an earlier date.
    assert client.get(f"/api/parcels/{parent.unit_code}/").status_code == 404
    then = client.get(f"/api/parcels/{parent.unit_code}/", {"as_of": "2024-05-31"})
    assert then.status_code == 200


def test_parcel_lineage_as_registered_by_a_day_before_the_split():
    """The split was registered today: as the register stood yesterday, the parent had no
    end and no children, and the children were not recorded yet."""
    parent, title = parcel_with_title(
        geom=factories.square(x=116.909), unit_code=factories.unit_code(62)
    )
    land_use_right(title, party("A"))
    three_days_ago = timezone.now() - datetime.timedelta(days=3)
    Parcel.objects.filter(pk=parent.pk).update(recorded_at=three_days_ago)
    split_in_halves(title, parent)
    client = logged_in(Role.REGISTRAR)
    yesterday = {"registered_by": (timezone.localdate() - datetime.timedelta(days=1)).isoformat()}
    then = client.get(f"/api/parcels/{parent.unit_code}/lineage/", yesterday).json()
    assert then["parcel"]["properties"]["valid_to"] is None
    assert then["children"]["features"] == []
    now = client.get(f"/api/parcels/{parent.unit_code}/lineage/").json()
    assert now["parcel"]["properties"]["valid_to"] == "2024-06-01"
    child = now["children"]["features"][0]["id"]
    unborn = client.get(f"/api/parcels/{child}/lineage/", yesterday)
    assert unborn.status_code == 404
    assert unborn.json()["message"] == (
        f"parcel {child} was recorded on {timezone.localdate()}, after {yesterday['registered_by']}"
    )
    before = {"registered_by": (timezone.localdate() - datetime.timedelta(days=4)).isoformat()}
    assert client.get(f"/api/parcels/{parent.unit_code}/lineage/", before).status_code == 404
    bad = client.get(f"/api/parcels/{parent.unit_code}/lineage/", {"registered_by": "soon"})
    assert bad.status_code == 400


# --- acts -------------------------------------------------------------------------------


def test_an_act_lodged_examined_and_approved_through_the_api_is_registered():
    _, title = parcel_with_title(geom=factories.square(x=116.908))
    state = party("the State", "state")
    deed = "首次登记申请书".encode()
    registrar, supervisor = logged_in(Role.REGISTRAR), logged_in(Role.SUPERVISOR)
    body = lodge_body(
        title,
        "first",
        {"right": {"kind": "state_ownership", **holders(state)}},
        on="2024-01-01",
        sources=[
            {
                "kind": "deed",
                "file_name": "deed.txt",
                "content_type": "text/plain",
                "content_base64": base64.b64encode(deed).decode(),
            }
        ],
    )
    lodged = post(registrar, "/api/acts/", body)
    assert lodged.status_code == 201
    act = lodged.json()
    assert lodged["Location"].endswith(f"/api/acts/{act['id']}/")
    assert (act["status"], act["act_type"], act["lodged_by"]) == (
        "lodged",
        "first",
        "test-registrar",
    )
    assert act["titles"] == [
        {"title_id": title.pk, "label": title.parcel.unit_code, "based_on_version": 1}
    ]
    (source,) = act["sources"]
    assert (source["size_bytes"], source["sha256"]) == (len(deed), hashlib.sha256(deed).hexdigest())
    assert "content" not in source and "content_base64" not in source

    queue = registrar.get("/api/acts/", {"status": "lodged"}).json()
    assert act["id"] in [row["id"] for row in queue["results"]]

    examined = post(registrar, f"/api/acts/{act['id']}/examine/", {"note": "deed checked"})
    assert examined.status_code == 200
    assert (examined.json()["status"], examined.json()["examination_note"]) == (
        "examined",
        "deed checked",
    )
    supervisors_queue = supervisor.get("/api/acts/", {"status": "examined"}).json()
    assert act["id"] in [row["id"] for row in supervisors_queue["results"]]

    approved = post(supervisor, f"/api/acts/{act['id']}/approve/")
    assert approved.status_code == 200
    registered = approved.json()
    assert registered["status"] == "registered"
    assert registered["decided_by"] == "test-registration_supervisor"
    assert registered["journal"]["position"] >= 1
    assert len(registered["journal"]["entry_hash"]) == 64
    detail = supervisor.get(f"/api/acts/{act['id']}/").json()
    assert detail == registered
    holders_now = logged_in(Role.PLANNER).get(f"/api/titles/{title.pk}/").json()["holders"]
    assert [(h["kind"], h["party"]) for h in holders_now] == [("state_ownership", "the State")]


def test_approving_the_second_of_two_transfers_on_one_version_is_a_409_changing_nothing():
    _, title = parcel_with_title(geom=factories.square(x=116.909))
    a, b, c = party("A"), party("B"), party("C")
    right = land_use_right(title, a)
    first, second = (
        lodged_and_examined(
            title, "transfer", {"right": right.pk, "transferors": [a.pk], **holders(to)}
        )
        for to in (b, c)
    )
    supervisor = logged_in(Role.SUPERVISOR)
    assert post(supervisor, f"/api/acts/{first}/approve/").status_code == 200
    before = snapshot(title)
    response = post(supervisor, f"/api/acts/{second}/approve/")
    assert response.status_code == 409
    body = response.json()
    assert body["rule"] == "stale_version"
    assert body["title"] == title.parcel.unit_code
    assert "changed since act" in body["message"] and "lodge it again" in body["message"]
    assert snapshot(title) == before
    assert RegistrationAct.objects.get(pk=second).status == ActStatus.EXAMINED


def test_lodging_on_a_stale_version_is_a_409():
    _, title = parcel_with_title(geom=factories.square(x=116.910))
    right = land_use_right(title, party("A"))
    body = lodge_body(title, "cancellation", {"right": right.pk})
    body["based_on_versions"] = {str(title.pk): title.version - 1}
    response = post(logged_in(Role.REGISTRAR), "/api/acts/", body)
    assert response.status_code == 409
    assert response.json()["rule"] == "stale_version"
    assert f"prepared on version {title.version - 1}" in response.json()["message"]
    # The message in the language the client asks for; the rule is the same key.
    client = logged_in(Role.REGISTRAR)
    chinese = client.post(
        "/api/acts/", body, content_type="application/json", HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).json()
    assert chinese["rule"] == "stale_version"
    assert f"申请依据的是第 {title.version - 1} 版" in chinese["message"]


def test_transfer_from_a_non_holder_is_a_400_naming_the_rule_and_the_holders():
    _, title = parcel_with_title(geom=factories.square(x=116.911))
    a, b, stranger = party("A"), party("B"), party("Stranger")
    right = land_use_right(title, a)
    body = refused_on_approval(
        title, "transfer", {"right": right.pk, "transferors": [stranger.pk], **holders(b)}
    )
    assert body == {
        "rule": "transfer_from_current_holder",
        "title": title.parcel.unit_code,
        "message": "a transfer must come from the current holders (A)",
    }


def test_shares_not_summing_to_one_are_a_400():
    _, title = parcel_with_title(geom=factories.square(x=116.912))
    a, b = party("A"), party("B")
    payload = {
        "right": {
            "kind": "land_use_right",
            "land_use_right_type": "allocated",
            "holders": [{"party": a.pk, "parts": 1}, {"party": b.pk, "parts": 1}],
            "share_denominator": 3,
        }
    }
    body = refused_on_approval(title, "first", payload)
    assert body["rule"] == "shares_sum_to_one"
    assert body["title"] == title.parcel.unit_code
    assert "add up to 2/3, not 1" in body["message"]


def test_an_examiner_approving_their_own_case_is_a_403():
    _, title = parcel_with_title(geom=factories.square(x=116.913))
    registrar = user(Role.REGISTRAR)
    both = user(Role.SUPERVISOR, "api-supervisor-who-examines")
    both.user_permissions.add(*registrar.groups.get().permissions.all())
    body = lodge_body(title, "first", {"right": {"kind": "state_ownership", **holders(party("S"))}})
    act_id = post(logged_in(registrar), "/api/acts/", body).json()["id"]
    client = logged_in(both)
    assert post(client, f"/api/acts/{act_id}/examine/").status_code == 200
    response = post(client, f"/api/acts/{act_id}/approve/")
    assert response.status_code == 403
    assert response.json()["rule"] == "examiner_cannot_approve"
    assert "cannot also decide it" in response.json()["message"]
    assert RegistrationAct.objects.get(pk=act_id).status == ActStatus.EXAMINED


def test_steps_out_of_order_are_a_409_wrong_state():
    _, title = parcel_with_title(geom=factories.square(x=116.914))
    body = lodge_body(title, "first", {"right": {"kind": "state_ownership", **holders(party("S"))}})
    registrar = logged_in(Role.REGISTRAR)
    act_id = post(registrar, "/api/acts/", body).json()["id"]
    unexamined = post(logged_in(Role.SUPERVISOR), f"/api/acts/{act_id}/approve/")
    assert unexamined.status_code == 409
    assert unexamined.json()["rule"] == "wrong_state"
    assert post(registrar, f"/api/acts/{act_id}/examine/").status_code == 200
    again = post(registrar, f"/api/acts/{act_id}/examine/")
    assert again.status_code == 409
    assert "not lodged" in again.json()["message"]


def test_rejection_needs_a_reason_and_changes_no_title():
    _, title = parcel_with_title(geom=factories.square(x=116.915))
    act_id = lodged_and_examined(
        title, "first", {"right": {"kind": "state_ownership", **holders(party("S"))}}
    )
    supervisor = logged_in(Role.SUPERVISOR)
    before = snapshot(title)
    for body in ({}, {"reason": "   "}):
        response = post(supervisor, f"/api/acts/{act_id}/reject/", body)
        assert response.status_code == 400
        assert response.json()["message"].startswith("reason:")
    response = post(supervisor, f"/api/acts/{act_id}/reject/", {"reason": "deed not notarised"})
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["rejection_reason"]) == (
        "rejected",
        "deed not notarised",
    )
    assert snapshot(title) == before


def test_unknown_act_is_404():
    client = logged_in(Role.SUPERVISOR)
    assert client.get("/api/acts/999999999/").status_code == 404
    response = post(client, "/api/acts/999999999/approve/")
    assert response.status_code == 404
    assert response.json()["rule"] == "not_found"


def test_the_queue_is_oldest_first_and_refuses_an_unknown_status():
    _, title = parcel_with_title(geom=factories.square(x=116.916))
    registrar = logged_in(Role.REGISTRAR)
    ids = [
        post(
            registrar,
            "/api/acts/",
            lodge_body(title, "seizure", {**holders(party(f"Court {n}")), "description": "case"}),
        ).json()["id"]
        for n in range(2)
    ]
    queue = registrar.get("/api/acts/", {"status": "lodged", "limit": 500}).json()
    listed = [row["id"] for row in queue["results"] if row["id"] in ids]
    assert listed == ids
    response = registrar.get("/api/acts/", {"status": "pending"})
    assert response.status_code == 400
    assert response.json()["message"].startswith("status:")


# --- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"effective_date": "2024-02-30"}, "effective_date", "YYYY-MM-DD"),
        ({"effective_date": None}, "effective_date", "may not be null"),
        ({"act_type": "sale"}, "act_type", "not a valid choice"),
        ({"titles": []}, "titles", "at least 1"),
        ({"titles": ["one"]}, "titles[0]", "valid integer"),
        ({"titles": [999999999]}, "titles", "unknown title id(s) [999999999]"),
        ({"payload": [1, 2]}, "payload", "must be a JSON object"),
        ({"payload": {"description": "a\u0000b"}}, "payload", "U+0000"),
        ({"based_on_versions": {"12x": 1}}, "based_on_versions", "'12x' is not the id"),
        ({"based_on_versions": {"1": "two"}}, "based_on_versions.1", "valid integer"),
        (
            {"sources": [{"kind": "deed", "file_name": "a.pdf", "content_base64": "%%%"}]},
            "sources[0].content_base64",
            "not valid base64",
        ),
        (
            {"sources": [{"kind": "deed", "content_base64": "aGk="}]},
            "sources[0].file_name",
            "required",
        ),
    ],
)
def test_bad_lodging_input_is_a_400_naming_the_field(change, field, words):
    _, title = parcel_with_title(geom=factories.square(x=116.917))
    acts_before = RegistrationAct.objects.count()
    body = {**lodge_body(title, "first", {"right": {}}), **change}
    response = post(logged_in(Role.REGISTRAR), "/api/acts/", body)
    assert response.status_code == 400, response.json()
    error = response.json()
    assert error["rule"] == "invalid_input"
    assert field in error["field_errors"]
    assert error["message"].startswith(f"{field}:")
    assert words in error["message"]
    assert RegistrationAct.objects.count() == acts_before


def test_malformed_json_and_non_json_bodies_are_refused_with_a_message():
    client = logged_in(Role.REGISTRAR)
    broken = client.post("/api/acts/", '{"act_type": "first",', content_type="application/json")
    assert broken.status_code == 400
    assert broken.json()["rule"] == "malformed_request"
    assert broken.json()["message"].startswith("request body: JSON parse error")
    not_an_object = client.post("/api/acts/", "[1, 2]", content_type="application/json")
    assert not_an_object.status_code == 400
    assert not_an_object.json()["message"] == "request: the body must be a JSON object"
    form = client.post("/api/acts/", {"act_type": "first"})
    assert form.status_code == 415
    assert form.json()["rule"] == "unsupported_media_type"


def test_a_body_over_the_upload_limit_is_a_413_naming_the_limit(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    _, title = parcel_with_title(geom=factories.square(x=116.923))
    deed = base64.b64encode(b"%PDF" * 5_000).decode()
    body = lodge_body(
        title,
        "objection",
        {**holders(party("X")), "description": "boundary"},
        sources=[{"kind": "deed", "file_name": "deed.pdf", "content_base64": deed}],
    )
    acts_before = RegistrationAct.objects.count()
    response = post(logged_in(Role.REGISTRAR), "/api/acts/", body)
    assert response.status_code == 413
    assert response.json()["rule"] == "request_too_large"
    assert "10000 bytes" in response.json()["message"]
    assert RegistrationAct.objects.count() == acts_before


def test_an_invalid_application_found_by_the_service_is_a_400():
    _, title = parcel_with_title(geom=factories.square(x=116.918))
    body = lodge_body(title, "first", {"right": {"kind": "lease", "holders": "everyone"}})
    act_id = post(logged_in(Role.REGISTRAR), "/api/acts/", body).json()["id"]
    examine_act(act=RegistrationAct.objects.get(pk=act_id), examiner=user(Role.REGISTRAR))
    response = post(logged_in(Role.SUPERVISOR), f"/api/acts/{act_id}/approve/")
    assert response.status_code == 400
    assert response.json()["rule"] == "invalid_application"
    assert "'holders' must list at least one holder" in response.json()["message"]


def test_posts_need_the_csrf_token_of_the_session():
    _, title = parcel_with_title(geom=factories.square(x=116.919))
    client = Client(enforce_csrf_checks=True)
    client.force_login(user(Role.REGISTRAR))
    body = lodge_body(title, "first", {"right": {"kind": "state_ownership", **holders(party("S"))}})
    response = post(client, "/api/acts/", body)
    assert response.status_code == 403
    assert "CSRF" in response.json()["message"]


# --- classified shelters ----------------------------------------------------------------


def secret_shelter_title():
    parcel, _ = parcel_with_title(geom=factories.square(x=116.920))
    building = factories.building(parcel=parcel, footprint=factories.square(x=116.920, side=0.0002))
    building.save()
    shelter = factories.shelter(
        building=building, name="Secret API shelter", classification=SecurityLevel.SECRET
    )
    shelter.save()
    return title_of(shelter)


def lodged_objection(title):
    return lodge_act(
        act_type="objection",
        titles=[title],
        payload={**holders(party("Objector")), "description": "boundary"},
        effective_date=day("2024-06-01"),
        lodged_by=user(Role.REGISTRAR),
    )


def test_a_title_on_a_classified_shelter_is_hidden_from_users_without_clearance():
    title = secret_shelter_title()
    act = lodged_objection(title)
    registrar = logged_in(Role.REGISTRAR)
    assert registrar.get(f"/api/titles/{title.pk}/").status_code == 404
    assert registrar.get(f"/api/titles/{title.pk}/chain/").status_code == 404
    assert registrar.get(f"/api/acts/{act.pk}/").status_code == 404
    queue = registrar.get("/api/acts/", {"status": "lodged", "limit": 500}).json()
    assert act.pk not in [row["id"] for row in queue["results"]]
    refused = post(registrar, "/api/acts/", lodge_body(title, "objection", {}))
    assert refused.status_code == 400
    assert f"unknown title id(s) [{title.pk}]" in refused.json()["message"]
    assert "Secret API shelter" not in json.dumps(queue)

    auditor = logged_in(Role.AUDITOR)  # cleared to 'confidential'
    shown = auditor.get(f"/api/titles/{title.pk}/")
    assert shown.status_code == 200
    assert shown.json()["title"]["name"] == "Secret API shelter"
    assert auditor.get(f"/api/acts/{act.pk}/").status_code == 200


def test_the_desk_queues_leave_out_acts_on_classified_shelters_and_planners_see_none(client):
    title = secret_shelter_title()
    act = lodged_objection(title)
    _, public_title = parcel_with_title()
    public_act = lodged_objection(public_title)
    client.force_login(user(Role.REGISTRAR))
    desk = client.get("/registry/").content.decode()
    assert public_act.number in desk and act.number not in desk
    client.force_login(user(Role.PLANNER))
    desk = client.get("/registry/").content.decode()
    assert "queue-registered" not in desk and "Recently registered" not in desk


# --- performance ------------------------------------------------------------------------


def test_title_detail_takes_a_fixed_number_of_queries(django_assert_num_queries):
    _, title = parcel_with_title(geom=factories.square(x=116.921))
    land_use_right(title, party("A"), party("B"), party("C"))
    client = logged_in(Role.PLANNER)
    # Session, user, user and group permissions, clearance, title, then rights, shares and
    # parties (rights_as_of), the holders in one, then the audit row: none per holder.
    with django_assert_num_queries(11):
        assert client.get(f"/api/titles/{title.pk}/").status_code == 200


def test_chain_queries_do_not_grow_with_the_number_of_acts():
    _, title = parcel_with_title(geom=factories.square(x=116.922))
    a, b, c = party("A"), party("B"), party("C")
    right = land_use_right(title, a)
    client = logged_in(Role.PLANNER)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/api/titles/{title.pk}/chain/").status_code == 200
        return len(captured)

    with_one_act = queries()
    for giver, taker, on in ((a, b, "2024-06-01"), (b, c, "2025-01-01")):
        register(
            "transfer",
            [title],
            {"right": right.pk, "transferors": [giver.pk], **holders(taker)},
            on,
        )
        right = title.rights.get(valid_to__isnull=True, kind=RightKind.LAND_USE_RIGHT)
    assert queries() == with_one_act


# --- schema and docs --------------------------------------------------------------------


def test_schema_is_valid_openapi_3_with_every_path():
    response = logged_in(Role.PLANNER).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = json.loads(response.content)
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    assert set(API_PATHS) <= set(schema["paths"])
    approve = schema["paths"]["/api/acts/{act_id}/approve/"]["post"]
    assert {"200", "400", "403", "404", "409"} <= set(approve["responses"])


def test_schema_of_the_api_generates_without_warnings(tmp_path):
    # --fail-on-warn turns any warning into an error; the API's own urlconf only.
    call_command(
        "spectacular",
        "--urlconf",
        "registry.api.urls",
        "--fail-on-warn",
        "--validate",
        "--file",
        str(tmp_path / "schema.yaml"),
        stderr=io.StringIO(),
    )
    assert "/acts/{act_id}/approve/" in (tmp_path / "schema.yaml").read_text()


def test_docs_load_swagger_ui_from_our_own_static_files():
    client = logged_in(Role.PLANNER)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "http://" not in page and "https://" not in page
    # The set-up script is a file of its own (the CSP forbids inline scripts); it names the
    # schema.
    assert re.search(r"<script>", page) is None
    script = client.get("/api/docs/", {"script": ""})
    assert script.status_code == 200
    assert "/api/schema/" in script.content.decode()
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/"])
def test_schema_and_docs_are_refused_to_anonymous_users(client, path):
    assert client.get(path).status_code in (401, 403)
