"""Read-side queries of the register. Keyword-only; every query that can reveal a shelter
takes the user and applies their clearance."""

import copy
import datetime
from typing import TYPE_CHECKING, Any, TypedDict

from django.conf import settings
from django.contrib.gis.geos import Point
from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    DateField,
    Exists,
    F,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    When,
)
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from registry.db import server_bound_cursor
from registry.models import (
    ActStatus,
    ActType,
    AllocatedBlock,
    AuditEvent,
    Certificate,
    Clearance,
    Condition,
    District,
    HistoryEvent,
    JournalEntry,
    Parcel,
    ParcelLineage,
    RegistrationAct,
    Right,
    RightHolder,
    SecurityLevel,
    Shelter,
    ShelterInspection,
    SpaceBlock,
    SpaceKind,
    Title,
)

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

NO_CLEARANCE = -1
# Audit events about the shelters as a layer (imports, exports, OGC reads), whose detail
# reflects the clearance they were done at.
SHELTER_LAYER_EVENTS = ("shelters", "ogc:shelters")


def clearance_of(*, user) -> int:
    """The highest shelter classification the user may see; -1 for anonymous users."""
    if not user.is_authenticated or not user.is_active:
        return NO_CLEARANCE
    if user.is_superuser:
        return SecurityLevel.CONFIDENTIAL
    level = Clearance.objects.filter(user=user).values_list("level", flat=True).first()
    return SecurityLevel.PUBLIC if level is None else level


def space_blocks_hidden_from(*, clearance: int) -> QuerySet[SpaceBlock]:
    """Civil-defence blocks in a building whose current shelter is classified above
    ``clearance``: the room and its area would give the shelter away, so for users not
    cleared that far they are in no figure, plan, export or admin list."""
    classified = Shelter.objects.filter(valid_to__isnull=True, classification__gt=clearance)
    return SpaceBlock.objects.filter(
        kind=SpaceKind.CIVIL_DEFENCE, building__in=classified.values("building")
    )


def payload_shown_to(*, act: RegistrationAct, user) -> dict:
    """What ``act`` applied for, as ``user`` may see it: a use allocation without the blocks
    hidden from the user (see :func:`space_blocks_hidden_from`)."""
    if act.act_type != ActType.ALLOCATION:
        return act.payload
    hidden = set(
        space_blocks_hidden_from(clearance=clearance_of(user=user)).values_list("pk", flat=True)
    )
    if not hidden:
        return act.payload
    payload = copy.deepcopy(act.payload)
    lists = [
        entry.get("blocks") for entry in payload.get("allocations") or [] if isinstance(entry, dict)
    ]
    lists.append(payload.get("hidden_from_lodger"))
    for blocks in lists:
        if isinstance(blocks, list):
            blocks[:] = [block for block in blocks if block not in hidden]
    return payload


def holds_permission(*, user, permission: str) -> bool:
    """``user.has_perm(permission)`` as Django's ModelBackend answers it (active users only;
    superusers hold everything; otherwise a permission of the user's own or of one of their
    groups) in one query. has_perm reads all of the user's permissions and all of their
    groups' in two ORM queries to check one, on every tile of the map. Nothing is cached
    between requests: a user taken out of a role, by whatever means, is refused at once."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    app_label, codename = permission.split(".", 1)
    # The permission's id first (an InitPlan), then two index lookups: a join of all five
    # tables took the planner longer than the query took to run.
    with server_bound_cursor() as cursor:
        cursor.execute(
            "WITH asked AS (SELECT p.id FROM auth_permission p "
            "JOIN django_content_type ct ON ct.id = p.content_type_id "
            "WHERE ct.app_label = %s AND p.codename = %s) "
            "SELECT EXISTS (SELECT 1 FROM auth_user_user_permissions "
            "WHERE user_id = %s AND permission_id = (SELECT id FROM asked)) "
            "OR EXISTS (SELECT 1 FROM auth_user_groups ug "
            "JOIN auth_group_permissions gp ON gp.group_id = ug.group_id "
            "WHERE ug.user_id = %s AND gp.permission_id = (SELECT id FROM asked))",
            [app_label, codename, user.pk, user.pk],
        )
        return cursor.fetchone()[0]


def shelters_visible_to(*, user) -> QuerySet[Shelter]:
    """Shelters at or below the user's clearance; none for anonymous users."""
    return Shelter.objects.filter(classification__lte=clearance_of(user=user))


class _DistrictAndInspection(TypedDict):
    district_id: int | None
    last_inspected: datetime.date | None


def shelters_with_district(*, user) -> "QuerySet[WithAnnotations[Shelter, _DistrictAndInspection]]":
    """Visible shelters annotated with ``district_id`` (the district of the parcel under
    their building, else the district whose boundary holds them; null outside every district)
    and ``last_inspected`` (null if never inspected)."""
    by_boundary = District.objects.filter(boundary__contains=OuterRef("location")).values("pk")[:1]
    return shelters_visible_to(user=user).annotate(
        district_id=Coalesce("building__parcel__district_id", Subquery(by_boundary)),
        last_inspected=Max("inspections__inspected_on"),
    )


def shelter_inventory(*, user, on: datetime.date) -> dict:
    """Shelters in good order (完好率) by district, and those whose inspection is overdue on
    ``on`` (never inspected, or last inspected longer ago than the configured interval)."""
    interval = datetime.timedelta(days=settings.LANDLEDGER_SHELTER_INSPECTION_INTERVAL_DAYS)
    names: dict[int | None, str] = dict(District.objects.values_list("pk", "name"))
    districts: dict = {}
    overdue = []
    for shelter in shelters_with_district(user=user).filter(in_force_on(on)).order_by("name"):
        row = districts.setdefault(
            shelter.district_id,
            {"district": names.get(shelter.district_id, ""), "shelters": 0, "places": 0,
             "by_condition": {condition: 0 for condition in Condition.values}, "overdue": 0},
        )  # fmt: skip
        row["shelters"] += 1
        row["places"] += shelter.capacity_persons
        row["by_condition"][shelter.condition] += 1
        if shelter.last_inspected is None or on - shelter.last_inspected > interval:
            row["overdue"] += 1
            overdue.append(
                {"shelter": shelter, "district": row["district"],
                 "last_inspected": shelter.last_inspected,
                 "days_since": (on - shelter.last_inspected).days if shelter.last_inspected else None}
            )  # fmt: skip
    rows = sorted(districts.values(), key=lambda row: row["district"])
    for row in rows:
        row["good_share"] = row["by_condition"][Condition.GOOD] / row["shelters"]
    return {"on": on, "interval_days": interval.days, "districts": rows, "overdue": overdue}


# --- the register ------------------------------------------------------------------------


def in_force_on(on: datetime.date) -> Q:
    """Rights (or units) whose legal interval [valid_from, valid_to) holds ``on``."""
    return Q(valid_from__lte=on) & (Q(valid_to__isnull=True) | Q(valid_to__gt=on))


def end_of_day(day: datetime.date) -> datetime.datetime:
    """The last moment of ``day`` in the server's time zone: the register "as it stood at the
    end of" a day holds what was recorded up to then."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.max))


def known_in_force_on(on: datetime.date, known_at: datetime.datetime | None) -> Q:
    """Rights in force on ``on`` as the register stood at ``known_at`` (as it stands now when
    None), both times kept for every right (DESIGN.md §4, Time): recorded by then, and not
    yet ended by then. A right is ended only by an act (registry 0008), so the act's
    registration dates its ending: one ended later, even with an earlier legal end, still
    stood open in the register at ``known_at``; an end given at recording counts from it.
    A right's recording is dated the same way, by the registration of the act that
    registered it: one clock for both, so that no moment shows a right and its successor
    together."""
    if known_at is None:
        return in_force_on(on)
    return (
        Q(registered_by__decided_at__lte=known_at)
        & Q(valid_from__lte=on)
        & (Q(valid_to__isnull=True) | Q(valid_to__gt=on) | _ended_after(known_at))
    )


def _ended_after(known_at: datetime.datetime) -> Q:
    """Rights ended by an act registered after ``known_at``: open in the register then."""
    return Q(cancelled_by__isnull=False) & ~Q(cancelled_by__decided_at__lte=known_at)


def rights_as_of(
    *, title: Title, on: datetime.date | None = None, known_at: datetime.datetime | None = None
) -> QuerySet[Right]:
    """The rights on a title in force on ``on`` (today when None), as the register knew them at
    ``known_at`` (now when None; see :func:`known_in_force_on`). Each carries its end as the
    register recorded it then, ``valid_to_as_registered`` and ``cancelled_by_as_registered``:
    none where the act that ended it was registered later, for the register did not know of
    that end yet."""
    on = on or datetime.date.today()
    rights = Right.objects.filter(title=title).filter(known_in_force_on(on, known_at))
    return (
        _with_ends_as_registered(rights, known_at)
        .select_related("registered_by")
        .prefetch_related("shares__party")
        .order_by("kind", "rank", "id")
    )


def _with_ends_as_registered(
    rights: QuerySet[Right], known_at: datetime.datetime | None
) -> QuerySet[Right]:
    """``rights`` annotated with ``valid_to_as_registered`` and ``cancelled_by_as_registered``:
    their ends as the register recorded them at ``known_at`` (as it stands when None)."""
    if known_at is None:
        return rights.annotate(
            valid_to_as_registered=F("valid_to"), cancelled_by_as_registered=F("cancelled_by")
        )
    ended_after = _ended_after(known_at)
    return rights.annotate(
        valid_to_as_registered=Case(
            When(ended_after, then=None), default=F("valid_to"), output_field=DateField()
        ),
        cancelled_by_as_registered=Case(
            When(ended_after, then=None),
            default=F("cancelled_by"),
            output_field=BigIntegerField(),
        ),
    )


def closed_as_registered(*, title: Title, known_at: datetime.datetime | None) -> bool:
    """Whether the title stood closed in the register at ``known_at`` (as it stands when
    None). Only a split or merge closes a title, retiring its parcel, so the registration of
    that act dates the closing (and the parcel's end), as it dates a right's end."""
    if title.is_open:
        return False
    return (
        known_at is None
        or _lineage_registered_by(known_at).filter(parent_id=title.parcel_id).exists()
    )


def _lineage_registered_by(known_at: datetime.datetime | None) -> QuerySet[ParcelLineage]:
    """The lineage of the splits and merges registered by ``known_at`` (all when None)."""
    if known_at is None:
        return ParcelLineage.objects.all()
    return ParcelLineage.objects.filter(act__decided_at__lte=known_at)


def holders_by(rights: QuerySet[Right], *, key: str) -> dict[Any, list[dict]]:
    """The holders of ``rights``, one row per share (right, kind, party, party_id and the
    share as "parts/denominator"), grouped by each right's ``key`` (a lookup such as
    ``title_id`` or ``title__parcel_id``); rights ordered by kind, rank and id, and holders
    by name within a right. One query, whatever the number of rights and holders."""
    shares = (
        RightHolder.objects.filter(right__in=rights)
        .order_by("right__kind", "right__rank", "right_id", "party__name", "party_id")
        .values_list(
            f"right__{key}",
            "right_id",
            "right__kind",
            "party__name",
            "party_id",
            "share_parts",
            "right__share_denominator",
        )
    )
    holders: dict[object, list[dict]] = {}
    for group, right_id, kind, party, party_id, parts, denominator in shares:
        holders.setdefault(group, []).append(
            {
                "right": right_id,
                "kind": kind,
                "party": party,
                "party_id": party_id,
                "share": f"{parts}/{denominator}",
            }
        )
    return holders


def holders_as_of(
    *, title: Title, on: datetime.date | None = None, kinds=None, known_at=None
) -> list[dict]:
    """Who held which right of the title on ``on`` (today when None), as the register stood at
    ``known_at`` (now when None), as ``holders_by`` lists them; only rights of ``kinds`` when
    given."""
    rights = Right.objects.filter(title=title).filter(
        known_in_force_on(on or datetime.date.today(), known_at)
    )
    if kinds is not None:
        rights = rights.filter(kind__in=kinds)
    return holders_by(rights, key="title_id").get(title.pk, [])


def parcel_as_of(*, unit_code: str, on: datetime.date | None = None) -> Parcel | None:
    """The parcel with this unit code as it existed on ``on``; None if it did not exist then."""
    return (
        Parcel.objects.filter(unit_code=unit_code)
        .filter(in_force_on(on or datetime.date.today()))
        .first()
    )


def parcel_at_point(*, point: Point, as_of: datetime.date | None = None) -> Parcel | None:
    """The parcel covering ``point`` on ``as_of`` (today when None); on a shared edge, the
    lowest id, so that the same click always answers the same parcel."""
    return (
        Parcel.objects.filter(geom__intersects=point)
        .select_related("district", "land_use", "title")
        .filter(in_force_on(as_of or datetime.date.today()))
        .order_by("id")
        .first()
    )


def title_chain(
    *, title: Title, known_at: datetime.datetime | None = None
) -> QuerySet[RegistrationAct]:
    """Every act on the title registered by ``known_at`` (all of them when None), first
    registration first. The rights each registered carry their ends as the register recorded
    them then (see :func:`rights_as_of`)."""
    acts = RegistrationAct.objects.filter(act_titles__title=title, status=ActStatus.REGISTERED)
    if known_at is not None:
        acts = acts.filter(decided_at__lte=known_at)
    rights_registered = _with_ends_as_registered(Right.objects.all(), known_at)
    return (
        acts.select_related("lodged_by", "examined_by", "decided_by", "journal")
        .prefetch_related(
            Prefetch("rights_registered", queryset=rights_registered),
            "rights_registered__shares__party",
            "rights_cancelled",
        )
        .order_by("decided_at", "id")
    )


def certificates_of(
    *, title: Title, known_at: datetime.datetime | None = None
) -> QuerySet[Certificate]:
    """The certificates issued on the title's rights by ``known_at`` (all when None), the
    latest first."""
    certificates = Certificate.objects.filter(right__title=title)
    if known_at is not None:
        certificates = certificates.filter(issued_at__lte=known_at)
    return certificates.order_by("-issued_at")


def parcels_as_registered(
    parcels: QuerySet[Parcel], *, known_at: datetime.datetime | None
) -> QuerySet[Parcel]:
    """``parcels`` recorded by ``known_at``, each with ``valid_to_as_registered``: its end as
    the register recorded it then, none where the split or merge that retired it was
    registered later (as they stand when None)."""
    if known_at is None:
        return parcels.annotate(valid_to_as_registered=F("valid_to"))
    retired_later = ParcelLineage.objects.filter(
        parent=OuterRef("pk"), act__decided_at__gt=known_at
    )
    return parcels.filter(recorded_at__lte=known_at).annotate(
        valid_to_as_registered=Case(
            When(Exists(retired_later), then=None), default=F("valid_to"), output_field=DateField()
        )
    )


def parcel_lineage(
    *, parcel: Parcel, known_at: datetime.datetime | None = None
) -> dict[str, list[Parcel]]:
    """The parcels this one came from and the ones it became (one generation each way), by
    the splits and merges registered by ``known_at`` (all of them when None); each with its
    end as then registered (:func:`parcels_as_registered`)."""
    lineage = _lineage_registered_by(known_at)
    parents = lineage.filter(child=parcel).values_list("parent_id", flat=True)
    children = lineage.filter(parent=parcel).values_list("child_id", flat=True)
    return {
        relation: list(
            parcels_as_registered(Parcel.objects.filter(pk__in=ids), known_at=known_at).order_by(
                "unit_code"
            )
        )
        for relation, ids in (("parents", parents), ("children", children))
    }


def titles_visible_to(*, user) -> QuerySet[Title]:
    """Titles whose unit the user may see: a title on a shelter classified above the user's
    clearance is left out everywhere, so nothing reveals it (DESIGN.md §7)."""
    return Title.objects.filter(
        Q(shelter__isnull=True) | Q(shelter__classification__lte=clearance_of(user=user))
    ).select_related("parcel", "building", "shelter")


def acts_visible_to(*, user) -> QuerySet[RegistrationAct]:
    """Acts none of whose titles is on a shelter above the user's clearance."""
    hidden = Title.objects.filter(shelter__classification__gt=clearance_of(user=user))
    return RegistrationAct.objects.exclude(act_titles__title__in=hidden)


def cleared_for_everything(*, user) -> bool:
    """Whether nothing is classified above the user's clearance."""
    return clearance_of(user=user) >= max(SecurityLevel.values)


def _keys_as_text(queryset: QuerySet) -> QuerySet:
    """The rows' primary keys as text, as history rows and audit events name them."""
    return queryset.annotate(as_text=Cast("pk", CharField())).values("as_text")


def _shelters_and_titles_above(clearance: int) -> tuple[QuerySet[Shelter], QuerySet[Title]]:
    hidden_shelters = Shelter.objects.filter(classification__gt=clearance)
    return hidden_shelters, Title.objects.filter(shelter__in=hidden_shelters)


def history_visible_to(*, user) -> QuerySet[HistoryEvent]:
    """Row changes without those of rows that give away a shelter above the user's clearance:
    the shelter itself, its inspections, its title and rights, and the civil-defence blocks
    of its building and their allocations."""
    events = HistoryEvent.objects.all()
    if cleared_for_everything(user=user):
        return events
    clearance = clearance_of(user=user)
    hidden_shelters, hidden_titles = _shelters_and_titles_above(clearance)
    hidden_blocks = space_blocks_hidden_from(clearance=clearance)
    rows_of = {
        "registry_shelter": hidden_shelters,
        "registry_shelterinspection": ShelterInspection.objects.filter(shelter__in=hidden_shelters),
        "registry_title": hidden_titles,
        "registry_right": Right.objects.filter(title__in=hidden_titles),
        "registry_spaceblock": hidden_blocks,
        "registry_allocatedblock": AllocatedBlock.objects.filter(block__in=hidden_blocks),
    }
    for table, rows in rows_of.items():
        events = events.exclude(table_name=table, row_pk__in=_keys_as_text(rows))
    return events


def audit_events_visible_to(*, user) -> QuerySet[AuditEvent]:
    """Audit events without those about a shelter above the user's clearance, or about an
    act, title or certificate on one, or about the shelter layer at a higher clearance."""
    events = AuditEvent.objects.all()
    if cleared_for_everything(user=user):
        return events
    clearance = clearance_of(user=user)
    # Imports, exports and reads of the shelter layer done at a higher clearance: their
    # counts and numbers would give the hidden shelters away.
    events = events.exclude(
        Q(object_type__in=SHELTER_LAYER_EVENTS) & ~Q(detail__clearance__lte=clearance)
    )
    hidden_shelters, hidden_titles = _shelters_and_titles_above(clearance)
    about = {
        "shelter": _keys_as_text(hidden_shelters),
        "title": _keys_as_text(hidden_titles),
        "act": RegistrationAct.objects.filter(act_titles__title__in=hidden_titles).values("number"),
        "certificate": Certificate.objects.filter(right__title__in=hidden_titles).values("number"),
    }
    for object_type, ids in about.items():
        events = events.exclude(object_type=object_type, object_id__in=ids)
    return events


def search_titles(*, query: str, user, limit: int = 50) -> QuerySet[Title]:
    """Titles the user may see, by unit code, certificate number, current holder's name,
    the name of the parcel, building or shelter, or address (case-insensitive)."""
    query = query.strip()
    if not query:
        return Title.objects.none()
    certificate_titles = Certificate.objects.filter(number__icontains=query).values("right__title")
    matches = (
        Q(parcel__unit_code__icontains=query)
        | Q(parcel__address__icontains=query)
        | Q(parcel__name__icontains=query)
        | Q(building__name__icontains=query)
        | Q(building__address__icontains=query)
        # Shelters by name: titles_visible_to has already left out those above the user's
        # clearance, so a name is never a way to learn of one.
        | Q(shelter__name__icontains=query)
        | Q(pk__in=certificate_titles)
        | Q(rights__valid_to__isnull=True, rights__shares__party__name__icontains=query)
    )
    return (
        titles_visible_to(user=user)
        .filter(matches)
        .distinct()
        .select_related("parcel", "building", "shelter")
        .order_by("id")[:limit]
    )


def act_queues(*, user) -> dict[str, QuerySet[RegistrationAct]]:
    """The acts waiting for this user's role, and the latest registered: only acts the
    user's clearance lets them see, and none for roles that may not read acts."""
    if not user.has_perm("registry.view_registrationact"):
        return {}
    acts = (
        acts_visible_to(user=user)
        .select_related("lodged_by", "examined_by", "office")
        .prefetch_related("act_titles__title__parcel")
    )
    queues = {}
    if user.has_perm("registry.lodge_act"):
        queues["to_examine"] = acts.filter(status=ActStatus.LODGED).order_by("lodged_at")
    if user.has_perm("registry.decide_act"):
        queues["to_decide"] = (
            acts.filter(status=ActStatus.EXAMINED).exclude(examined_by=user).order_by("examined_at")
        )
    queues["registered"] = acts.filter(status=ActStatus.REGISTERED).order_by("-decided_at")[:10]
    return queues


def certificate_matching(*, number: str, journal_hash: str) -> Certificate | None:
    """The certificate with this number, if its hash is the one sealed in the journal at the
    position it names; None otherwise (forged, altered, or unknown)."""
    certificate = Certificate.objects.filter(number=number.strip()).select_related("right").first()
    if certificate is None or not constant_time_compare(certificate.journal_hash, journal_hash):
        return None
    sealed = JournalEntry.objects.filter(
        position=certificate.journal_position, entry_hash=journal_hash, act_id=certificate.act_id
    ).exists()
    return certificate if sealed else None
