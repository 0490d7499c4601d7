"""The registrar's desk through Django's test client: search, a title as of a date, lodging,
examining and approving by two people, refusals shown as messages, certificates in HTML and
PDF, the audit log, and the public certificate check."""

import datetime
import io
import re

import pytest
from pypdf import PdfReader

from registry.models import (
    ActStatus,
    AuditEvent,
    Certificate,
    Parcel,
    RegistrationAct,
    RightKind,
)
from registry.roles import Role
from tests.registry import factories
from tests.registry.register import (
    day,
    holders,
    land_use_right,
    parcel_with_title,
    party,
    register,
    split_in_halves,
    user,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def owned_title():
    _, title = parcel_with_title()
    seller = party("Seller Agency")
    land_use_right(title, seller, on="2024-01-01")
    return title, seller


def logged_in(client, role: Role, name: str | None = None):
    client.force_login(user(role, name))
    return client


def test_search_finds_a_title_by_unit_code_holder_and_certificate(client, owned_title):
    title, _ = owned_title
    logged_in(client, Role.REGISTRAR)
    certificate = Certificate.objects.get(right__title=title)
    for query in (title.parcel.unit_code, "Seller Agency", certificate.number):
        page = client.get("/registry/", {"q": query}).content.decode()
        assert f"/registry/titles/{title.pk}/" in page, query


def test_title_page_shows_rights_in_force_on_the_chosen_date(client, owned_title):
    title, _ = owned_title
    logged_in(client, Role.PLANNER)
    today = client.get(f"/registry/titles/{title.pk}/").content.decode()
    assert "Seller Agency" in today and "<svg" in today
    before = client.get(f"/registry/titles/{title.pk}/", {"as_of": "2023-12-31"}).content.decode()
    assert "No right was in force on that day." in before
    bad = client.get(f"/registry/titles/{title.pk}/", {"as_of": "31/12/2023"})
    assert bad.status_code == 200 and "is not a date" in bad.content.decode()
    assert (
        AuditEvent.objects.filter(
            action="read", object_type="title", object_id=str(title.pk)
        ).count()
        == 3
    )


def test_a_right_past_its_term_is_flagged_not_silently_in_force(client):
    _, title = parcel_with_title(geom=factories.square(x=116.97))
    register(
        "first",
        [title],
        {
            "right": {
                "kind": RightKind.LAND_USE_RIGHT,
                "land_use_right_type": "granted",
                "term_end": "2030-01-01",
                **holders(party("Grantee")),
            }
        },
        "2024-01-01",
    )
    logged_in(client, Role.PLANNER)
    flag = "term ended; not yet cancelled in the register"
    within = client.get(f"/registry/titles/{title.pk}/", {"as_of": "2029-12-31"}).content.decode()
    assert "Grantee" in within and flag not in within
    after = client.get(f"/registry/titles/{title.pk}/", {"as_of": "2030-01-02"}).content.decode()
    assert "Grantee" in after and flag in after


def test_the_register_as_it_stood_when_a_backdated_transfer_was_not_yet_registered(client):
    """Legal time and recording time apart: a transfer registered now with an effective date
    in the past rewrites what the register says of that past, and the register as it stood
    before still answers as it did then."""
    from django.utils import timezone

    from registry.selectors import holders_as_of, rights_as_of

    _, title = parcel_with_title(geom=factories.square(x=116.975))
    seller, buyer = party("Earlier holder"), party("Later holder")
    right = land_use_right(title, seller, on="2024-01-01")
    before_the_transfer = timezone.now()
    register(
        "transfer",
        [title],
        {"right": right.pk, "transferors": [seller.pk], **holders(buyer)},
        "2024-06-01",
    )
    on = day("2024-07-01")

    def held(known_at):
        return [row["party"] for row in holders_as_of(title=title, on=on, known_at=known_at)]

    assert held(None) == ["Later holder"]
    assert held(before_the_transfer) == ["Earlier holder"]
    assert [r.pk for r in rights_as_of(title=title, on=on, known_at=before_the_transfer)] == [
        right.pk
    ]
    logged_in(client, Role.PLANNER)
    today = timezone.localdate()
    page = client.get(
        f"/registry/titles/{title.pk}/",
        {"as_of": "2024-07-01", "registered_by": today.isoformat()},
    ).content.decode()
    assert "Later holder" in page and "as registered by the end of" in page
    yesterday = (today - datetime.timedelta(days=1)).isoformat()
    page = client.get(
        f"/registry/titles/{title.pk}/", {"as_of": "2024-07-01", "registered_by": yesterday}
    ).content.decode()
    assert "No right was in force on that day." in page  # nothing was registered yet
    bad = client.get(f"/registry/titles/{title.pk}/", {"registered_by": "soon"}).content.decode()
    assert "is not a date (YYYY-MM-DD); showing the register as it stands." in bad
    last = {"as_of": "2024-07-01", "registered_by": "9999-12-31"}  # the last day there is
    assert "Later holder" in client.get(f"/registry/titles/{title.pk}/", last).content.decode()
    assert (
        client.get(f"/api/titles/{title.pk}/", last).json()["holders"][0]["party"] == "Later holder"
    )
    api = client.get(
        f"/api/titles/{title.pk}/", {"as_of": "2024-07-01", "registered_by": yesterday}
    ).json()
    assert api["rights"] == [] and api["holders"] == []


def test_a_right_ended_later_shows_no_end_in_the_register_as_it_stood(client):
    """The register as it stood before a transfer's registration does not know of the end
    the transfer later gave the seller's right, backdated as that end is."""
    from unittest import mock

    from django.utils import timezone

    _, title = parcel_with_title(geom=factories.square(x=116.985))
    seller, buyer = party("Earlier holder"), party("Later holder")
    three_days_ago = timezone.now() - datetime.timedelta(days=3)
    with mock.patch.object(timezone, "now", return_value=three_days_ago):
        right = land_use_right(title, seller, on="2024-01-01")
    register(
        "transfer",
        [title],
        {"right": right.pk, "transferors": [seller.pk], **holders(buyer)},
        "2024-06-01",
    )
    right.refresh_from_db()
    assert right.valid_to == day("2024-06-01") and right.cancelled_by_id is not None
    logged_in(client, Role.PLANNER)
    then = {
        "as_of": "2024-07-01",
        "registered_by": (timezone.localdate() - datetime.timedelta(days=1)).isoformat(),
    }
    api = client.get(f"/api/titles/{title.pk}/", then).json()
    assert [(r["id"], r["valid_to"], r["cancelled_by"]) for r in api["rights"]] == [
        (right.pk, None, None)
    ]
    assert [h["party"] for h in api["holders"]] == ["Earlier holder"]
    page = client.get(f"/registry/titles/{title.pk}/", then)
    assert "Earlier holder" in page.content.decode()
    assert [r.valid_to_as_registered for r in page.context["rights"]] == [None]
    # Nor did it know of the transfer, nor of the buyer's certificate; the headings say so.
    for heading in ("Registration history", "Lineage", "Certificates"):
        assert (
            f'{heading} <small class="muted">as registered by the end of' in page.content.decode()
        )
    assert [act.act_type for act in page.context["chain"]] == ["first"]
    assert {c.act.act_type for c in page.context["certificates"]} == {"first"}
    today = client.get(f"/registry/titles/{title.pk}/").context
    assert [act.act_type for act in today["chain"]] == ["first", "transfer"]
    assert {c.act.act_type for c in today["certificates"]} == {"first", "transfer"}
    # As the register stands, the same right as of the day before its end shows that end.
    now = client.get(f"/api/titles/{title.pk}/", {"as_of": "2024-05-31"}).json()
    assert [(r["valid_to"], r["cancelled_by"]) for r in now["rights"]] == [
        ("2024-06-01", right.cancelled_by_id)
    ]


def test_a_title_closed_later_stands_open_in_the_register_as_it_stood(client):
    """A split registered today closed the title, retired its parcel, ended its right and
    gave the parcel its children: the register as it stood yesterday knew of none of this,
    in the title's history either."""
    from unittest import mock

    from django.utils import timezone

    parcel, title = parcel_with_title(geom=factories.square(x=116.995))
    with mock.patch.object(timezone, "now", return_value=timezone.now() - datetime.timedelta(3)):
        land_use_right(title, party("Splitter"), on="2024-01-01")
    split_in_halves(title, parcel)
    logged_in(client, Role.PLANNER)
    yesterday = (timezone.localdate() - datetime.timedelta(days=1)).isoformat()
    then, now = {"registered_by": yesterday}, {}
    for query, closed in ((then, False), (now, True)):
        page = client.get(f"/registry/titles/{title.pk}/", query)
        assert page.context["closed"] is closed
        existence = re.search(r"In existence</th><td>([^<]*)</td>", page.content.decode())
        assert existence.group(1).strip().endswith("–") is not closed  # the parcel's end
        assert ("(closed)" in page.content.decode()) is closed
        api = client.get(f"/api/titles/{title.pk}/", query).json()
        assert api["title"]["is_open"] is not closed
        acts = ["first", "split"] if closed else ["first"]
        assert [act.act_type for act in page.context["chain"]] == acts
        assert len(page.context["lineage"]["children"]) == (2 if closed else 0)
        chain = client.get(f"/api/titles/{title.pk}/chain/", query).json()
        assert chain["title"]["is_open"] is not closed
        assert [act["act_type"] for act in chain["acts"]] == acts
        (first_right,) = chain["acts"][0]["rights_registered"]
        assert (first_right["valid_to"] is not None) is closed  # ended by the split
        assert (first_right["cancelled_by"] is not None) is closed


def lodge_transfer(client, title, seller, buyer, **overrides):
    right = title.rights.get(kind=RightKind.LAND_USE_RIGHT, valid_to__isnull=True)
    form = {
        "based_on_version": title.version,
        "effective_date": "2024-06-01",
        "source_kind": "deed",
        "right": right.pk,
        "transferors": [seller.pk],
        "holder_1": buyer.pk,
        "parts_1": 1,
        "sources": io.BytesIO(b"%PDF-1.4 deed of transfer"),
    }
    form["sources"].name = "deed.pdf"
    form.update(overrides)
    return client.post(f"/registry/titles/{title.pk}/lodge/transfer/", form, follow=True)


def test_two_people_lodge_examine_and_approve_a_transfer(client, owned_title):
    title, seller = owned_title
    buyer = party("Buyer Agency")
    logged_in(client, Role.REGISTRAR)
    page = lodge_transfer(client, title, seller, buyer)
    act = RegistrationAct.objects.get(act_titles__title=title, act_type="transfer")
    assert f"Act {act.number} lodged." in page.content.decode()
    assert (
        act.sources.get().sha256
        == __import__("hashlib").sha256(b"%PDF-1.4 deed of transfer").hexdigest()
    )
    client.post(f"/registry/acts/{act.pk}/", {"action": "examine", "note": "deed checked"})
    assert client.post(f"/registry/acts/{act.pk}/", {"action": "approve"}).status_code == 403
    logged_in(client, Role.SUPERVISOR)
    assert f"/registry/acts/{act.pk}/" in client.get("/registry/").content.decode()  # in the queue
    client.post(f"/registry/acts/{act.pk}/", {"action": "approve"})
    act.refresh_from_db()
    assert act.status == ActStatus.REGISTERED
    assert (
        title.rights.get(valid_to__isnull=True, kind=RightKind.LAND_USE_RIGHT).holders.get()
        == buyer
    )


def test_a_merge_is_lodged_from_the_title_page_naming_the_other_parcels(client):
    holder = party("Merging Agency")
    _, west = parcel_with_title(geom=factories.square(x=116.96))
    _, east = parcel_with_title(geom=factories.square(x=116.9605))
    land_use_right(west, holder, on="2024-01-01")
    land_use_right(east, holder, on="2024-01-01")
    logged_in(client, Role.REGISTRAR)
    page = client.get(f"/registry/titles/{west.pk}/").content.decode()
    assert f"/registry/titles/{west.pk}/lodge/merge/" in page
    form = {
        "based_on_version": west.version,
        "effective_date": "2024-06-01",
        "source_kind": "survey",
        "others": f" {east.parcel.unit_code} ",
        "name": "merged block",
    }
    unknown = client.post(
        f"/registry/titles/{west.pk}/lodge/merge/",
        {**form, "others": "110102000000GB99999W00000000"},
    )
    assert "No title for unit code(s) 110102000000GB99999W00000000." in unknown.content.decode()
    assert not RegistrationAct.objects.filter(act_type="merge").exists()
    page = client.post(f"/registry/titles/{west.pk}/lodge/merge/", form, follow=True)
    act = RegistrationAct.objects.get(act_type="merge")
    assert f"Act {act.number} lodged." in page.content.decode()
    assert set(act.act_titles.values_list("title", flat=True)) == {west.pk, east.pk}


def test_an_acts_application_is_shown_with_names_and_the_json_beside(client, owned_title):
    title, seller = owned_title
    buyer = party("Buyer of record")
    logged_in(client, Role.REGISTRAR)
    lodge_transfer(client, title, seller, buyer)
    act = RegistrationAct.objects.get(act_titles__title=title, act_type="transfer")
    page = client.get(f"/registry/acts/{act.pk}/").content.decode()
    rows = re.search(r'<table id="application">(.*?)</table>', page, re.S).group(1)
    assert re.search(r"<th>Transferors</th><td>Seller Agency</td>", rows)
    assert re.search(r"<th>Party</th><td>Buyer of record</td>", rows)
    right = title.rights.get(kind=RightKind.LAND_USE_RIGHT, cancelled_by__isnull=True)
    assert f"<th>Right</th><td>{right.get_kind_display()} #{right.pk}</td>" in rows
    assert "{&#x27;" not in page  # no Python dict
    assert f"&quot;transferors&quot;: [\n  {seller.pk}\n ]" in page  # the JSON as lodged


def test_the_transfer_form_ticks_and_names_the_current_holders(client, owned_title):
    title, seller = owned_title
    party("Someone else")
    logged_in(client, Role.REGISTRAR)
    form = client.get(f"/registry/titles/{title.pk}/lodge/transfer/").content.decode()
    assert "Current holders: Seller Agency" in form
    ticked = re.findall(r'<option value="(\d+)" selected>', form)
    assert ticked == [str(seller.pk)]


def approval_of_a_transfer_from_a_stranger(client, title, seller) -> str:
    """The page a supervisor gets on approving a transfer whose transferor does not hold the
    title: lodged and examined by a registrar, refused on approval."""
    logged_in(client, Role.REGISTRAR)
    lodge_transfer(client, title, seller, party("Buyer"), transferors=[party("Stranger").pk])
    act = RegistrationAct.objects.get(act_titles__title=title, act_type="transfer")
    client.post(f"/registry/acts/{act.pk}/", {"action": "examine"})
    logged_in(client, Role.SUPERVISOR)
    return client.post(
        f"/registry/acts/{act.pk}/", {"action": "approve"}, follow=True
    ).content.decode()


def test_refusal_is_shown_with_the_rule_and_the_title_and_changes_nothing(client, owned_title):
    title, seller = owned_title
    page = approval_of_a_transfer_from_a_stranger(client, title, seller)
    assert (
        f"{title.parcel.unit_code}: a transfer must come from the current holders (Seller Agency)"
        in page
    )
    assert (
        title.rights.get(valid_to__isnull=True, kind=RightKind.LAND_USE_RIGHT).holders.get()
        == seller
    )


def test_a_refusal_speaks_the_users_chinese(client, owned_title, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    title, seller = owned_title
    page = approval_of_a_transfer_from_a_stranger(client, title, seller)
    assert f"{title.parcel.unit_code}: 转让人必须是现权利人（Seller Agency）" in page
    logged_in(client, Role.REGISTRAR)  # a form prepared on an old version: a conflict
    stale = lodge_transfer(client, title, seller, party("Buyer"), based_on_version=0)
    assert "请重新加载" in stale.content.decode()


def test_stale_form_is_refused_as_a_conflict(client, owned_title):
    title, seller = owned_title
    logged_in(client, Role.REGISTRAR)
    page = lodge_transfer(client, title, seller, party("Buyer"), based_on_version=title.version - 1)
    assert "reload it" in page.content.decode()
    assert not RegistrationAct.objects.filter(act_titles__title=title, act_type="transfer").exists()


def test_lodge_form_reports_bad_input_by_field(client, owned_title):
    title, seller = owned_title
    logged_in(client, Role.REGISTRAR)
    page = lodge_transfer(
        client, title, seller, party("Buyer"), effective_date="2024-02-30", holder_1=""
    )
    text = page.content.decode()
    assert (
        page.status_code == 200
        and "Enter a valid date." in text
        and "This field is required." in text
    )


def test_certificate_page_pdf_and_extract(client, owned_title):
    title, _ = owned_title
    certificate = Certificate.objects.get(right__title=title)
    logged_in(client, Role.REGISTRAR)
    page = client.get(f"/registry/certificates/{certificate.pk}/").content.decode()
    assert certificate.number in page and certificate.journal_hash in page
    pdf = client.get(f"/registry/certificates/{certificate.pk}/pdf/")
    assert pdf["Content-Type"] == "application/pdf"
    text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert certificate.journal_hash in text and title.parcel.unit_code in text
    extract = client.get(f"/registry/titles/{title.pk}/extract/", {"format": "pdf"})
    assert (
        PdfReader(io.BytesIO(extract.content)).pages[0].extract_text().count(title.parcel.unit_code)
        >= 1
    )
    assert AuditEvent.objects.filter(action="export", object_id=certificate.number).exists()


def test_a_superseded_certificate_says_so_on_the_page_and_the_pdf(client, owned_title):
    title, seller = owned_title
    old = Certificate.objects.get(right__title=title)
    right = old.right
    act = register(
        "transfer",
        [title],
        {"right": right.pk, "transferors": [seller.pk], **holders(party("Next holder"))},
        "2024-06-01",
    )
    logged_in(client, Role.REGISTRAR)
    page = " ".join(client.get(f"/registry/certificates/{old.pk}/").content.decode().split())
    assert (
        f"No longer in force: the right it certifies ended on 2024-06-01 (act {act.number})" in page
    )
    text = PdfReader(io.BytesIO(client.get(f"/registry/certificates/{old.pk}/pdf/").content))
    assert f"2024-06-01 (act {act.number})" in text.pages[0].extract_text()
    current = Certificate.objects.get(right__title=title, right__valid_to__isnull=True)
    assert (
        "No longer in force"
        not in client.get(f"/registry/certificates/{current.pk}/").content.decode()
    )


def test_public_check_accepts_the_real_certificate_and_rejects_an_altered_hash(client, owned_title):
    title, _ = owned_title
    certificate = Certificate.objects.get(right__title=title)
    real = client.post(
        "/verify/", {"number": certificate.number, "journal_hash": certificate.journal_hash}
    )
    assert "Matches the register" in real.content.decode()
    assert "Seller Agency" not in real.content.decode()
    altered = certificate.journal_hash[:-1] + ("0" if certificate.journal_hash[-1] != "0" else "1")
    forged = client.post("/verify/", {"number": certificate.number, "journal_hash": altered})
    assert "Does not match" in forged.content.decode()
    junk = client.post("/verify/", {"number": certificate.number, "journal_hash": "z" * 64})
    assert "other than 0-9 and a-f" in junk.content.decode()


def test_audit_log_and_journal_check_are_for_auditors(client, owned_title):
    logged_in(client, Role.REGISTRAR)
    assert client.get("/registry/audit/").status_code == 403
    logged_in(client, Role.AUDITOR)
    page = client.post("/registry/audit/").content.decode()
    assert "Journal intact" in page and "approve" in page


def test_the_audit_log_pages_through_every_event_and_says_when_none_match(client):
    from registry.services.acts import record_audit

    reader = user(Role.AUDITOR, "audit-pager")
    for number in range(150):
        record_audit(user=reader, action="read", object_type="title", object_id=f"paged-{number}")
    total = AuditEvent.objects.count()
    logged_in(client, Role.AUDITOR)
    first = " ".join(client.get("/registry/audit/").content.decode().split())
    assert f"Events 1–100 of {total}, newest first." in first
    assert "paged-149" in first and "paged-0<" not in first
    last_page = (total + 99) // 100
    older = client.get("/registry/audit/", {"user": "audit-pager", "page": 2}).content.decode()
    assert "Events 101–150 of 150" in " ".join(older.split()) and "paged-0<" in older
    assert 'href="?user=audit-pager&amp;page=1"' in older  # the filter kept from page to page
    beyond = client.get("/registry/audit/", {"page": 999}).content.decode()
    assert f"page {last_page} of {last_page}" in beyond
    none = client.get("/registry/audit/", {"user": "nobody"}).content.decode()
    assert "No events match." in none
    # In the reader's language, with the codes kept in the markup.
    chinese = client.get(
        "/registry/audit/", {"object": "paged-7"}, HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    assert '<td data-action="read">查阅</td>' in chinese
    assert '<td data-object-type="title">登记簿 paged-7</td>' in chinese


def test_pages_speak_chinese_by_default(client, owned_title, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    logged_in(client, Role.REGISTRAR)
    assert "登记工作台" in client.get("/registry/").content.decode()
    assert (
        "Registrar's desk" in client.get("/registry/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    )
    # The start page too: what each role does, and what the register holds today.
    home = client.get("/").content.decode()
    current = Parcel.objects.filter(valid_to__isnull=True).count()
    assert "维护人防工程台账" in home and f"现有宗地 {current} 宗" in home
    assert "人口格网为合成数据" in home  # the footer's note on the demo's data
    english = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f"{current} current parcels" in english


def test_title_on_a_classified_shelter_is_hidden_from_users_without_clearance(client):
    from registry.models import SecurityLevel
    from registry.services.acts import title_of
    from tests.registry import factories

    shelter = factories.shelter(classification=SecurityLevel.SECRET, name="Command post 7")
    shelter.save()
    title = title_of(shelter)
    logged_in(client, Role.PLANNER)
    assert client.get(f"/registry/titles/{title.pk}/").status_code == 404
    assert "Command post 7" not in client.get("/registry/", {"q": "shelter"}).content.decode()
    found = client.get("/registry/", {"q": "Command post"}).content.decode()
    assert "Command post 7" not in found and f"/registry/titles/{title.pk}/" not in found
    logged_in(client, Role.AUDITOR)
    assert client.get(f"/registry/titles/{title.pk}/").status_code == 200
    found = client.get("/registry/", {"q": "command POST"}).content.decode()
    assert f"/registry/titles/{title.pk}/" in found  # by the shelter's name, for the cleared
