"""Registration acts: lodge → examine → approve (which registers) or reject.

Each step is one durable transaction that writes its audit event, and approval also its
journal entry and certificates, inside the same transaction. Approval locks the act, then
the titles it concerns in primary-key order, then the subzone's unit-code counter (splits and
merges), then the journal, then the certificate counters: every approval takes them in that
order, so concurrent acts queue instead of deadlocking. An act lodged on a title version that
has since changed is refused with :class:`ConflictError`.

Payloads (``holders`` is always ``[{"party": id, "parts": n}, ...]`` with
``share_denominator`` d, the parts adding up to d):

===============  ===========================================================================
first            ``{"right": {"kind", "holders", "share_denominator", "land_use_right_type",
                 "term_end", "amount", "rank", "description"}}``
transfer         ``{"right": id, "transferors": [party ids], "holders", "share_denominator"}``
change           ``{"right": id, "changes": {"term_end"|"amount"|"description"|"rank": ...}}``
correction       as change; ``changes`` may also hold ``holders`` and ``share_denominator``
cancellation     ``{"right": id}``
seizure          ``{"holders": [court], "description"}`` (also objection, advance_notice)
split            ``{"children": [{"geometry": GeoJSON in EPSG:4490, "land_use", "name"}]}``
merge            ``{"land_use": code (optional), "name"}``; the titles are the parents
allocation       ``{"allocations": [{"party": agency party id, "blocks": [space block ids]}]}``
                 on one building's title: each listed agency's whole new use allocation there
                 (an empty list ends it)
===============  ===========================================================================
"""

import datetime
import getpass
import hashlib
import os
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib.gis.geos import GEOSException, GEOSGeometry, MultiPolygon
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from registry.errors import ConflictError, InvalidApplication, NotAllowed, RuleViolation, WrongState
from registry.models import (
    CERTIFICATE_WORD,
    EXCLUSIVE_KINDS,
    TRANSFERABLE_KINDS,
    ActStatus,
    ActTitle,
    ActType,
    Agency,
    AllocatedBlock,
    AuditEvent,
    Certificate,
    CertificateKind,
    CertificateSequence,
    District,
    LandUseClass,
    Parcel,
    ParcelLineage,
    Party,
    RegistrationAct,
    Right,
    RightHolder,
    RightKind,
    SourceDocument,
    SpaceBlock,
    Title,
)
from registry.services.journal import append_to_journal

STORAGE_SRID = 4490
RESTRICTIONS_BLOCKING_MERGE = [
    RightKind.MORTGAGE,
    RightKind.SEIZURE,
    RightKind.OBJECTION,
    RightKind.ADVANCE_NOTICE,
]
CERTIFICATE_KIND_OF_RIGHT = {
    RightKind.LAND_USE_RIGHT: CertificateKind.TITLE,
    RightKind.BUILDING_OWNERSHIP: CertificateKind.TITLE,
    RightKind.MORTGAGE: CertificateKind.PROOF,
    RightKind.OBJECTION: CertificateKind.PROOF,
    RightKind.ADVANCE_NOTICE: CertificateKind.PROOF,
    RightKind.EASEMENT: CertificateKind.PROOF,
}
KINDS_BY_FIRST_REGISTRATION = [
    RightKind.STATE_OWNERSHIP,
    RightKind.LAND_USE_RIGHT,
    RightKind.BUILDING_OWNERSHIP,
    RightKind.USE_ALLOCATION,
    RightKind.LEASE,
    RightKind.EASEMENT,
    RightKind.MORTGAGE,
]
RESTRICTION_OF_ACT = {
    ActType.SEIZURE: RightKind.SEIZURE,
    ActType.OBJECTION: RightKind.OBJECTION,
    ActType.ADVANCE_NOTICE: RightKind.ADVANCE_NOTICE,
}
CHANGEABLE_FIELDS = {"term_end", "amount", "description", "rank", "land_use_right_type"}


@dataclass(frozen=True)
class Source:
    """A document lodged with an application."""

    kind: str
    file_name: str
    content: bytes
    content_type: str = ""


# --- helpers ---------------------------------------------------------------------------


def _name_app_user(user) -> None:
    """Tell the history triggers which LandLedger user this transaction acts for."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('landledger.app_user', %s, true)", [user.get_username()])


def record_audit(*, user, action: str, object_type: str, object_id, detail=None) -> None:
    """``user`` is None for what runs without a user of the register (an import or export
    from the command line): the event then names the operating-system account that ran it,
    so that the log still says by whom."""
    detail = dict(detail or {})
    if user is None:
        detail["os_account"] = operating_system_account()
    AuditEvent.objects.create(
        user=user if user is not None and user.is_authenticated else None,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        detail=detail,
    )


def operating_system_account() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for the process's user id (a bare container)
        return f"uid {os.getuid()}"


def _require(user, permission: str, step: str) -> None:
    if not user.has_perm(permission):
        raise NotAllowed(f"{user.get_username()} may not {step} registration acts")


def _holders(
    payload: dict, *, title: str, field: str = "holders"
) -> tuple[list[tuple[int, int]], int]:
    """Validated (party id, parts) pairs and the denominator; the parts must add up to it."""
    raw = payload.get(field)
    if not isinstance(raw, list) or not raw:
        raise InvalidApplication(f"'{field}' must list at least one holder", title=title)
    try:
        denominator = int(payload.get("share_denominator", 1))
        pairs = [(int(item["party"]), int(item.get("parts", 1))) for item in raw]
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidApplication(
            f"'{field}' entries need a party id and whole-number parts ({error})", title=title
        ) from error
    if denominator < 1 or any(parts < 1 for _, parts in pairs):
        raise InvalidApplication(
            "shares must be positive whole parts of a positive denominator", title=title
        )
    if len({party for party, _ in pairs}) != len(pairs):
        raise InvalidApplication("a party is listed twice among the holders", title=title)
    total = sum(parts for _, parts in pairs)
    if total != denominator:
        raise RuleViolation(
            f"holders' shares add up to {total}/{denominator}, not 1",
            title=title,
            rule="shares_sum_to_one",
        )
    known = set(
        Party.objects.filter(pk__in=[party for party, _ in pairs]).values_list("pk", flat=True)
    )
    missing = [party for party, _ in pairs if party not in known]
    if missing:
        raise InvalidApplication(f"unknown party id(s) {missing}", title=title)
    return pairs, denominator


def _date(value, *, field: str, title: str) -> datetime.date | None:
    if value in (None, ""):
        return None
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError as error:
        raise InvalidApplication(
            f"'{field}' must be a date YYYY-MM-DD, not {value!r}", title=title
        ) from error


def _amount(value, *, title: str) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation as error:
        raise InvalidApplication(
            f"'amount' must be a number, not {value!r}", title=title
        ) from error
    if amount <= 0:
        raise RuleViolation(
            "a mortgage secures a positive amount", title=title, rule="mortgage_amount"
        )
    return amount


def _current(title: Title, kinds=None):
    rights = Right.objects.filter(title=title, valid_to__isnull=True)
    return rights.filter(kind__in=kinds) if kinds is not None else rights


def _refuse_if_seized(title: Title, doing: str) -> None:
    if _current(title, [RightKind.SEIZURE]).exists():
        raise RuleViolation(
            f"the title is seized (查封): no {doing} until the seizure is lifted",
            title=str(title),
            rule="seized",
        )


def _right_of(act: RegistrationAct, title: Title) -> Right:
    try:
        right_id = int(act.payload["right"])
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidApplication(
            "'right' must be the id of a right on the title", title=str(title)
        ) from error
    right = Right.objects.filter(pk=right_id, title=title).first()
    if right is None:
        raise InvalidApplication(f"right {right_id} is not on this title", title=str(title))
    if right.valid_to is not None:
        raise RuleViolation(
            f"right {right_id} ({right.get_kind_display()}) is no longer current",
            title=str(title),
            rule="right_not_current",
        )
    return right


def _create_right(*, act, title, kind, holders, denominator, **attributes) -> Right:
    right = Right.objects.create(
        title=title,
        kind=kind,
        share_denominator=denominator,
        valid_from=act.effective_date,
        registered_by=act,
        **attributes,
    )
    RightHolder.objects.bulk_create(
        [RightHolder(right=right, party_id=party, share_parts=parts) for party, parts in holders]
    )
    return right


def _end_right(right: Right, act: RegistrationAct) -> None:
    if act.effective_date < right.valid_from:
        raise RuleViolation(
            f"the act takes effect on {act.effective_date}, before right {right.pk} began "
            f"({right.valid_from})",
            title=str(right.title),
            rule="effective_before_right",
        )
    right.valid_to = act.effective_date
    right.cancelled_by = act
    right.save(update_fields=["valid_to", "cancelled_by"])


def _copy_right(right: Right, *, act, title, holders=None, denominator=None) -> Right:
    """The same right registered again by ``act`` on ``title``, with its own holders unless
    others are given (a transfer)."""
    if holders is None:
        holders = [(share.party_id, share.share_parts) for share in right.shares.all()]
        denominator = right.share_denominator
    return _create_right(
        act=act,
        title=title,
        kind=right.kind,
        holders=holders,
        denominator=denominator,
        land_use_right_type=right.land_use_right_type,
        term_end=right.term_end,
        amount=right.amount,
        rank=right.rank,
        description=right.description,
    )


def _right_attributes(spec: dict, *, kind: str, title: str) -> dict:
    attributes = {
        "land_use_right_type": spec.get("land_use_right_type") or "",
        "term_end": _date(spec.get("term_end"), field="term_end", title=title),
        "amount": _amount(spec.get("amount"), title=title) if kind == RightKind.MORTGAGE else None,
        "rank": spec.get("rank"),
        "description": str(spec.get("description") or ""),
    }
    if kind == RightKind.LAND_USE_RIGHT and attributes["land_use_right_type"] not in (
        "allocated",
        "granted",
    ):
        raise InvalidApplication(
            "a land-use right is 'allocated' (划拨) or 'granted' (出让)", title=title
        )
    if attributes["land_use_right_type"] == "granted" and attributes["term_end"] is None:
        raise InvalidApplication("a granted land-use right needs its term_end", title=title)
    if kind == RightKind.MORTGAGE:
        if attributes["amount"] is None:
            raise InvalidApplication("a mortgage needs its amount", title=title)
        try:
            attributes["rank"] = int(attributes["rank"])
        except (TypeError, ValueError) as error:
            raise InvalidApplication("a mortgage needs a whole-number rank", title=title) from error
        if attributes["rank"] < 1:
            raise InvalidApplication("mortgage ranks start at 1", title=title)
    else:
        attributes["rank"] = None
    return attributes


def _refuse_taken_rank(title: Title, rank: int, *, excluding: int | None = None) -> None:
    taken = _current(title, [RightKind.MORTGAGE]).filter(rank=rank).exclude(pk=excluding)
    if taken.exists():
        raise RuleViolation(
            f"a current mortgage of rank {rank} is already registered",
            title=str(title),
            rule="mortgage_rank_taken",
        )


# --- the effect of each act type -------------------------------------------------------


def _register_first(act, titles):
    (title,) = titles
    spec = act.payload.get("right")
    if not isinstance(spec, dict):
        raise InvalidApplication("'right' must describe the right to register", title=str(title))
    kind = spec.get("kind")
    if kind not in KINDS_BY_FIRST_REGISTRATION:
        raise InvalidApplication(
            f"a first registration registers one of {KINDS_BY_FIRST_REGISTRATION}, not {kind!r}",
            title=str(title),
        )
    holders, denominator = _holders(spec, title=str(title))
    attributes = _right_attributes(spec, kind=kind, title=str(title))
    if kind in EXCLUSIVE_KINDS and _current(title, [kind]).exists():
        raise RuleViolation(
            f"a current {RightKind(kind).label} is already registered",
            title=str(title),
            rule="already_registered",
        )
    if kind == RightKind.MORTGAGE:
        _refuse_if_seized(title, "mortgage")
        _refuse_taken_rank(title, attributes["rank"])
    _create_right(
        act=act, title=title, kind=kind, holders=holders, denominator=denominator, **attributes
    )


def _register_transfer(act, titles):
    (title,) = titles
    right = _right_of(act, title)
    if right.kind not in TRANSFERABLE_KINDS:
        raise RuleViolation(
            f"a {right.get_kind_display()} is not transferred by transfer registration",
            title=str(title),
            rule="not_transferable",
        )
    _refuse_if_seized(title, "transfer")
    current = set(right.shares.values_list("party_id", flat=True))
    try:
        transferors = {int(party) for party in act.payload.get("transferors", [])}
    except (TypeError, ValueError) as error:
        raise InvalidApplication("'transferors' must be party ids", title=str(title)) from error
    if transferors != current:
        names = ", ".join(
            sorted(Party.objects.filter(pk__in=current).values_list("name", flat=True))
        )
        raise RuleViolation(
            f"a transfer must come from the current holders ({names})",
            title=str(title),
            rule="transfer_from_current_holder",
        )
    holders, denominator = _holders(act.payload, title=str(title))
    _end_right(right, act)
    _copy_right(right, act=act, title=title, holders=holders, denominator=denominator)


@dataclass(frozen=True)
class PlanVerdict:
    """What the land-use plan says of a parcel's use: ``conforms`` is None where no plan
    covers the parcel; ``planned`` the planned-use class over most of it, ``share`` that
    class's share of the parcel's area (0-1)."""

    conforms: bool | None
    planned: str = ""
    share: float = 0.0


# Planning is not part of the register (it knows nothing of maps and plans); the planning
# layer tells it, through this hook, whether a use conforms to the plan.
_plan_check = None


def set_plan_check(check) -> None:
    """``check(*, parcel, land_use) -> PlanVerdict``, used when a change of use is approved."""
    global _plan_check
    _plan_check = check


def plan_verdict(*, parcel, land_use: str) -> PlanVerdict:
    return _plan_check(parcel=parcel, land_use=land_use) if _plan_check else PlanVerdict(None)


def _register_change_of_use(act, title) -> None:
    """转变用途: a parcel's current use changes, checked against the plan; a use that does
    not conform is registered only with an explicit override reason."""
    parcel = _parcel_title(title)
    code = str(act.payload.get("land_use") or "")
    if not LandUseClass.objects.filter(code=code, parent__isnull=False).exists():
        raise InvalidApplication(
            f"{code!r} is not a GB/T 21010-2017 second-level class", title=str(title)
        )
    if code == parcel.land_use_id:
        raise InvalidApplication(f"the parcel's use is already {code}", title=str(title))
    verdict = plan_verdict(parcel=parcel, land_use=code)
    override = str(act.payload.get("override_reason") or "").strip()
    if verdict.conforms is False and not override:
        raise RuleViolation(
            f"use {code} does not conform to the plan, which gives {verdict.planned} for "
            f"{verdict.share:.0%} of the parcel; give an override reason to register it anyway",
            title=str(title),
            rule="not_conforming_to_plan",
        )
    parcel.land_use_id = code
    parcel.save(update_fields=["land_use"])


def _register_change(act, titles):
    (title,) = titles
    if "land_use" in act.payload:
        _register_change_of_use(act, title)
        return
    right = _right_of(act, title)
    changes = act.payload.get("changes")
    allowed = CHANGEABLE_FIELDS | (
        {"holders", "share_denominator"} if act.act_type == ActType.CORRECTION else set()
    )
    if not isinstance(changes, dict) or not changes or set(changes) - allowed:
        raise InvalidApplication(
            f"'changes' must change some of {sorted(allowed)}", title=str(title)
        )
    spec = {
        "land_use_right_type": right.land_use_right_type,
        "term_end": right.term_end,
        "amount": right.amount,
        "rank": right.rank,
        "description": right.description,
        **changes,
    }
    attributes = _right_attributes(spec, kind=right.kind, title=str(title))
    if "holders" in changes:
        holders, denominator = _holders(changes, title=str(title))
    else:
        holders = [(share.party_id, share.share_parts) for share in right.shares.all()]
        denominator = right.share_denominator
    if right.kind == RightKind.MORTGAGE:
        _refuse_taken_rank(title, attributes["rank"], excluding=right.pk)
    _end_right(right, act)
    _create_right(
        act=act,
        title=title,
        kind=right.kind,
        holders=holders,
        denominator=denominator,
        **attributes,
    )


def _register_cancellation(act, titles):
    (title,) = titles
    _end_right(_right_of(act, title), act)


def _register_restriction(act, titles):
    (title,) = titles
    holders, denominator = _holders(act.payload, title=str(title))
    _create_right(
        act=act,
        title=title,
        kind=RESTRICTION_OF_ACT[act.act_type],
        holders=holders,
        denominator=denominator,
        description=str(act.payload.get("description") or ""),
    )


def _parcel_title(title: Title) -> Parcel:
    if title.parcel_id is None:
        raise InvalidApplication("splits and merges are of parcels", title=str(title))
    if not title.is_open or title.parcel.valid_to is not None:
        raise RuleViolation(
            "the parcel is already retired", title=str(title), rule="parcel_retired"
        )
    return title.parcel


def _area_m2(geometry) -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT ST_Area(ST_GeomFromEWKB(%s)::geography)", [bytes(geometry.ewkb)])
        return cursor.fetchone()[0]


def _next_unit_codes(template: str, count: int) -> list[str]:
    """New codes in the parent's subzone, after the highest parcel number used there."""
    subzone = template[:12]
    with connection.cursor() as cursor:
        # Two splits in one subzone must not hand out the same number.
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"landledger.subzone.{subzone}"]
        )
        cursor.execute(
            "SELECT max(substr(unit_code, 15, 5)::int) FROM registry_parcel "
            "WHERE unit_code LIKE %s",
            [f"{subzone}%"],
        )
        highest = cursor.fetchone()[0] or 0
    if highest + count > 99999:
        raise RuleViolation(f"subzone {subzone} has no parcel numbers left", rule="no_unit_codes")
    return [
        f"{template[:14]}{number:05d}W00000000"
        for number in range(highest + 1, highest + 1 + count)
    ]


def _new_parcel(*, act, code, geometry, land_use, name, parent: Parcel) -> tuple[Parcel, Title]:
    parcel = Parcel.objects.create(
        unit_code=code,
        district=parent.district,
        land_use_id=land_use,
        name=name,
        address=parent.address,
        geom=geometry,
        valid_from=act.effective_date,
        source=f"{act.get_act_type_display()} {act.number}",
    )
    return parcel, Title.objects.create(parcel=parcel)


def _retire_parcel(parcel: Parcel, title: Title, act) -> list[Right]:
    """Retire a parent parcel and end its current rights; returns the rights it had."""
    if act.effective_date <= parcel.valid_from:
        raise RuleViolation(
            f"the act takes effect on {act.effective_date}, not after the parcel began",
            title=str(title),
            rule="effective_before_parcel",
        )
    rights = list(_current(title).prefetch_related("shares"))
    for right in rights:
        _end_right(right, act)
    parcel.valid_to = act.effective_date
    parcel.save(update_fields=["valid_to"])
    title.is_open = False
    title.save(update_fields=["is_open"])
    return rights


def _children_geometries(act, title) -> list[tuple[MultiPolygon, str, str]]:
    children = act.payload.get("children")
    if not isinstance(children, list) or len(children) < 2:
        raise InvalidApplication("a split needs at least two children", title=str(title))
    result = []
    for number, child in enumerate(children, start=1):
        try:
            geometry = GEOSGeometry(str(child["geometry"]))
        except (KeyError, TypeError, ValueError, GEOSException) as error:
            raise InvalidApplication(
                f"child {number}: 'geometry' is not a readable geometry", title=str(title)
            ) from error
        if geometry.srid not in (None, 4326, STORAGE_SRID):
            raise InvalidApplication(
                f"child {number}: give the geometry in EPSG:{STORAGE_SRID} longitude/latitude, "
                f"not EPSG:{geometry.srid}",
                title=str(title),
            )
        # GeoJSON reads as EPSG:4326; its coordinates are taken as CGCS2000 longitude/latitude.
        geometry.srid = STORAGE_SRID
        if geometry.geom_type == "Polygon":
            geometry = MultiPolygon(geometry, srid=geometry.srid)
        if geometry.geom_type != "MultiPolygon" or geometry.empty or not geometry.valid:
            raise InvalidApplication(
                f"child {number}: the geometry must be a valid, non-empty polygon "
                f"({geometry.valid_reason if not geometry.valid else geometry.geom_type})",
                title=str(title),
            )
        land_use = str(child.get("land_use") or title.parcel.land_use_id)
        if not LandUseClass.objects.filter(code=land_use, parent__isnull=False).exists():
            raise InvalidApplication(
                f"child {number}: unknown land-use class {land_use!r}", title=str(title)
            )
        result.append((geometry, land_use, str(child.get("name") or "")))
    return result


def _register_split(act, titles):
    (title,) = titles
    parent = _parcel_title(title)
    _refuse_if_seized(title, "split")
    children = _children_geometries(act, title)
    tolerance = settings.LANDLEDGER_OVERLAP_TOLERANCE_M2
    union = children[0][0]
    for geometry, _, _ in children[1:]:
        union = union.union(geometry)
    parent_area = _area_m2(parent.geom)
    children_area = sum(_area_m2(geometry) for geometry, _, _ in children)
    gap_or_excess = (
        _area_m2(parent.geom.sym_difference(union)) if not union.equals(parent.geom) else 0.0
    )
    if abs(parent_area - children_area) > tolerance or gap_or_excess > tolerance:
        raise RuleViolation(
            f"the children must cover exactly the parent: parent {parent_area:.1f} m², children "
            f"{children_area:.1f} m², {gap_or_excess:.1f} m² differ (tolerance {tolerance} m²)",
            title=str(title),
            rule="children_cover_parent",
        )
    rights = _retire_parcel(parent, title, act)
    for (geometry, land_use, name), code in zip(
        children, _next_unit_codes(parent.unit_code, len(children)), strict=True
    ):
        child, child_title = _new_parcel(
            act=act, code=code, geometry=geometry, land_use=land_use, name=name, parent=parent
        )
        ParcelLineage.objects.create(parent=parent, child=child, act=act)
        for right in rights:
            _copy_right(right, act=act, title=child_title)
        ActTitle.objects.create(act=act, title=child_title, based_on_version=0)


def _holder_signature(title: Title) -> list:
    return sorted(
        (
            right.kind,
            right.land_use_right_type,
            right.share_denominator,
            tuple(sorted(right.shares.values_list("party_id", "share_parts"))),
        )
        for right in _current(title, EXCLUSIVE_KINDS)
    )


def _register_merge(act, titles):
    if len(titles) < 2:
        raise InvalidApplication("a merge needs at least two parcels")
    parents = [_parcel_title(title) for title in titles]
    label = ", ".join(str(title) for title in titles)
    if len({parent.district_id for parent in parents}) != 1:
        raise RuleViolation(
            "the parcels lie in different districts", title=label, rule="parents_in_one_district"
        )
    for title in titles:
        if _current(title, RESTRICTIONS_BLOCKING_MERGE).exists():
            raise RuleViolation(
                "a mortgage, seizure, objection or advance notice is registered; "
                "cancel it before merging",
                title=str(title),
                rule="restricted",
            )
    signature = _holder_signature(titles[0])
    for title in titles[1:]:
        if _holder_signature(title) != signature:
            raise RuleViolation(
                "parcels with different rights or holders cannot be merged",
                title=label,
                rule="holders_differ",
            )
    union = parents[0].geom
    for parent in parents[1:]:
        union = union.union(parent.geom)
    if union.geom_type != "Polygon" and union.num_geom != 1:
        raise RuleViolation(
            "the parcels do not form one connected area", title=label, rule="parents_not_adjacent"
        )
    union = MultiPolygon(union, srid=STORAGE_SRID) if union.geom_type == "Polygon" else union
    land_use = str(act.payload.get("land_use") or parents[0].land_use_id)
    code = _next_unit_codes(parents[0].unit_code, 1)[0]
    # All parents carry the same rights and holders (checked above): the child takes the first's.
    inherited = [
        _retire_parcel(parent, title, act) for parent, title in zip(parents, titles, strict=True)
    ][0]
    child, child_title = _new_parcel(
        act=act,
        code=code,
        geometry=union,
        land_use=land_use,
        name=str(act.payload.get("name") or ""),
        parent=parents[0],
    )
    for parent in parents:
        ParcelLineage.objects.create(parent=parent, child=child, act=act)
    for right in inherited:
        if right.kind in EXCLUSIVE_KINDS:
            _copy_right(right, act=act, title=child_title)
    ActTitle.objects.create(act=act, title=child_title, based_on_version=0)


def _allocation_entries(act, title) -> list[tuple[int, list[int]]]:
    """(agency party id, block ids) pairs of an allocation act, checked for form."""
    entries = act.payload.get("allocations")
    if not isinstance(entries, list) or not entries:
        raise InvalidApplication(
            "'allocations' must list at least one agency and its blocks", title=str(title)
        )
    parsed = []
    for number, entry in enumerate(entries, start=1):
        try:
            party = int(entry["party"])
            blocks = [int(block) for block in entry.get("blocks", [])]
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidApplication(
                f"allocation {number}: needs an agency's party id and a list of block ids",
                title=str(title),
            ) from error
        parsed.append((party, blocks))
    parties = [party for party, _ in parsed]
    if len(set(parties)) != len(parties):
        raise InvalidApplication("an agency is listed twice", title=str(title))
    listed = [block for _, blocks in parsed for block in blocks]
    if len(set(listed)) != len(listed):
        raise InvalidApplication("a block is given to two agencies", title=str(title))
    return parsed


def _register_allocation(act, titles):
    """使用调配: the listed agencies' use allocations in one building are replaced by the
    blocks given, each as a use-allocation right on the building's title listing its blocks
    (see :mod:`registry.models.space`)."""
    (title,) = titles
    if title.building_id is None:
        raise InvalidApplication("use allocations are of space in a building", title=str(title))
    building = title.building
    entries = _allocation_entries(act, title)
    agencies = Agency.objects.select_related("party").in_bulk([party for party, _ in entries])
    wanted = [block for _, blocks in entries for block in blocks]
    blocks = SpaceBlock.objects.in_bulk(wanted)
    for party, block_ids in entries:
        agency = agencies.get(party)
        if agency is None:
            raise InvalidApplication(
                f"party {party} is not an agency: office space is allocated to agencies",
                title=str(title),
            )
        if block_ids and building.premises_classification > agency.clearance:
            raise RuleViolation(
                f"{agency} is cleared to level {agency.clearance}, the premises are classified "
                f"{building.premises_classification}",
                title=str(title),
                rule="premises_above_clearance",
            )
        for block_id in block_ids:
            block = blocks.get(block_id)
            if block is None or block.building_id != building.pk:
                raise InvalidApplication(
                    f"block {block_id} is not a space block of this building", title=str(title)
                )
            if block.valid_to is not None:
                raise RuleViolation(
                    f"block {block.label} is retired", title=str(title), rule="block_retired"
                )
            if block.area_m2 is None:
                raise RuleViolation(
                    f"block {block.label} has no surveyed area; survey it before allocating it",
                    title=str(title),
                    rule="block_without_area",
                )
    listed_parties = [party for party, _ in entries]
    ending = list(
        _current(title, [RightKind.USE_ALLOCATION]).filter(shares__party_id__in=listed_parties)
    )
    held_elsewhere = (
        AllocatedBlock.objects.filter(
            block_id__in=wanted,
            right__valid_to__isnull=True,
            right__kind=RightKind.USE_ALLOCATION,
        )
        .exclude(right__in=ending)
        .select_related("block", "right")
        .first()
    )
    if held_elsewhere is not None:
        holder = ", ".join(held_elsewhere.right.holders.values_list("name", flat=True))
        raise RuleViolation(
            f"block {held_elsewhere.block.label} is allocated to {holder} "
            f"(right {held_elsewhere.right_id}); list that agency too to move it",
            title=str(title),
            rule="block_already_allocated",
        )
    for right in ending:
        _end_right(right, act)
    for party, block_ids in entries:
        if not block_ids:
            continue
        right = _create_right(
            act=act,
            title=title,
            kind=RightKind.USE_ALLOCATION,
            holders=[(party, 1)],
            denominator=1,
            description=str(act.payload.get("description") or ""),
        )
        AllocatedBlock.objects.bulk_create(
            [AllocatedBlock(right=right, block_id=block) for block in sorted(block_ids)]
        )


REGISTER = {
    ActType.FIRST: _register_first,
    ActType.TRANSFER: _register_transfer,
    ActType.CHANGE: _register_change,
    ActType.CORRECTION: _register_change,
    ActType.CANCELLATION: _register_cancellation,
    ActType.SEIZURE: _register_restriction,
    ActType.OBJECTION: _register_restriction,
    ActType.ADVANCE_NOTICE: _register_restriction,
    ActType.SPLIT: _register_split,
    ActType.MERGE: _register_merge,
    ActType.ALLOCATION: _register_allocation,
}


# --- certificates ----------------------------------------------------------------------


def certificate_number(*, office: District, year: int, kind: str, serial: int) -> str:
    """``京(2026)西城区不动产权第0000001号`` style; an office without a configured name is
    named by its division code, so that numbers stay unique."""
    office_name = office.certificate_office or office.code
    prefix = f"{office.certificate_province}({year}){office_name}"
    return f"{prefix}{CERTIFICATE_WORD[kind]}第{serial:07d}号"


def _issue_certificates(act, entry) -> list[Certificate]:
    year = timezone.localdate(act.decided_at).year
    certificates = []
    for right in act.rights_registered.order_by("id"):
        kind = CERTIFICATE_KIND_OF_RIGHT.get(right.kind)
        if kind is None:
            continue
        sequence, _ = CertificateSequence.objects.get_or_create(
            office=act.office, year=year, kind=kind
        )
        # The row lock makes numbers come one after another, without gaps, across sessions.
        sequence = CertificateSequence.objects.select_for_update().get(pk=sequence.pk)
        sequence.last_serial += 1
        sequence.save(update_fields=["last_serial"])
        certificates.append(
            Certificate.objects.create(
                number=certificate_number(
                    office=act.office, year=year, kind=kind, serial=sequence.last_serial
                ),
                kind=kind,
                office=act.office,
                year=year,
                serial=sequence.last_serial,
                act=act,
                right=right,
                journal_position=entry.position,
                journal_hash=entry.entry_hash,
                issued_at=act.decided_at,
            )
        )
    return certificates


# --- the steps of an act ---------------------------------------------------------------


def title_of(unit) -> Title:
    """The title of a parcel, building or shelter, opened (without rights) if it has none."""
    field = {"Parcel": "parcel", "Building": "building", "Shelter": "shelter"}[type(unit).__name__]
    title, _ = Title.objects.get_or_create(**{field: unit})
    return title


def lodge_act(
    *,
    act_type: str,
    titles: list[Title],
    payload: dict,
    effective_date: datetime.date,
    lodged_by,
    based_on_versions: dict[int, int] | None = None,
    sources: list[Source] = (),
) -> RegistrationAct:
    """Lodge an application on ``titles``, as seen at ``based_on_versions`` (title id →
    version; the current versions when omitted)."""
    _require(lodged_by, "registry.lodge_act", "lodge")
    if act_type not in ActType.values:
        raise InvalidApplication(f"unknown act type {act_type!r}; one of {ActType.values}")
    if not titles:
        raise InvalidApplication("an act concerns at least one title")
    if not isinstance(payload, dict):
        raise InvalidApplication("the application's details must be an object")
    if effective_date > timezone.localdate():
        # The register shows what is in force today as its current state (map, search,
        # certificates): an act dated ahead would show parcels and holders not yet in force.
        raise InvalidApplication(
            f"the act takes effect on {effective_date}, after today ({timezone.localdate()}): "
            "lodge it on or after the day it takes effect"
        )
    with transaction.atomic(durable=True):
        _name_app_user(lodged_by)
        current = dict(
            Title.objects.filter(pk__in=[title.pk for title in titles]).values_list("pk", "version")
        )
        # The version the applicant saw: given explicitly, else that of the title object passed.
        versions = {
            title.pk: (based_on_versions or {}).get(title.pk, title.version) for title in titles
        }
        for title in titles:
            if versions[title.pk] != current[title.pk]:
                raise ConflictError(
                    f"the title is at version {current[title.pk]}, the application was "
                    f"prepared on version {versions[title.pk]}; reload it",
                    title=str(title),
                )
            if not title.is_open:
                raise RuleViolation(
                    "the title is closed (its unit was split, merged or retired)",
                    title=str(title),
                    rule="title_closed",
                )
        office = _office_of(titles[0])
        act = RegistrationAct.objects.create(
            # The number is made from the primary key, known only after the insert.
            number=f"pending-{uuid.uuid4().hex[:24]}",
            act_type=act_type,
            office=office,
            payload=payload,
            effective_date=effective_date,
            lodged_by=lodged_by,
        )
        act.number = f"{office.code}-{timezone.localdate().year}-{act.pk:07d}"
        act.save(update_fields=["number"])
        ActTitle.objects.bulk_create(
            [
                ActTitle(act=act, title=title, based_on_version=versions[title.pk])
                for title in titles
            ]
        )
        for source in sources:
            SourceDocument.objects.create(
                act=act,
                kind=source.kind,
                file_name=source.file_name,
                content_type=source.content_type,
                content=source.content,
                size_bytes=len(source.content),
                sha256=hashlib.sha256(source.content).hexdigest(),
            )
        record_audit(
            user=lodged_by,
            action="lodge",
            object_type="act",
            object_id=act.number,
            detail={"type": act_type, "titles": [title.pk for title in titles]},
        )
    return act


def _office_of(title: Title) -> District:
    unit = title.unit
    if title.parcel_id:
        return unit.district
    parcel = getattr(unit, "parcel", None) or getattr(
        getattr(unit, "building", None), "parcel", None
    )
    if parcel is None:
        raise InvalidApplication(
            "the unit sits on no parcel, so no registration office is known", title=str(title)
        )
    return parcel.district


def examine_act(*, act: RegistrationAct, examiner, note: str = "") -> RegistrationAct:
    _require(examiner, "registry.lodge_act", "examine")
    with transaction.atomic(durable=True):
        _name_app_user(examiner)
        act = RegistrationAct.objects.select_for_update().get(pk=act.pk)
        if act.status != ActStatus.LODGED:
            raise WrongState(f"act {act.number} is {act.get_status_display()}, not lodged")
        act.status = ActStatus.EXAMINED
        act.examined_by = examiner
        act.examined_at = timezone.now()
        act.examination_note = note
        act.save(update_fields=["status", "examined_by", "examined_at", "examination_note"])
        record_audit(user=examiner, action="examine", object_type="act", object_id=act.number)
    return act


def _decidable(act_pk: int, decider) -> RegistrationAct:
    _require(decider, "registry.decide_act", "approve or reject")
    act = RegistrationAct.objects.select_for_update().get(pk=act_pk)
    if act.status != ActStatus.EXAMINED:
        raise WrongState(
            f"act {act.number} is {act.get_status_display()}; only examined acts are decided"
        )
    if act.examined_by_id == decider.pk:
        raise NotAllowed(
            f"{decider.get_username()} examined act {act.number} and cannot also decide it",
            rule="examiner_cannot_approve",
        )
    return act


def reject_act(*, act: RegistrationAct, decider, reason: str) -> RegistrationAct:
    if not reason.strip():
        raise InvalidApplication("a rejection needs its reason")
    with transaction.atomic(durable=True):
        _name_app_user(decider)
        act = _decidable(act.pk, decider)
        act.status = ActStatus.REJECTED
        act.decided_by = decider
        act.decided_at = timezone.now()
        act.rejection_reason = reason.strip()
        act.save(update_fields=["status", "decided_by", "decided_at", "rejection_reason"])
        record_audit(
            user=decider,
            action="reject",
            object_type="act",
            object_id=act.number,
            detail={"reason": act.rejection_reason},
        )
    return act


def approve_act(*, act: RegistrationAct, approver) -> RegistrationAct:
    """Approve and register: check every rule against the register as it now is, apply the
    act, seal it in the journal and issue its certificates, all in one transaction."""
    try:
        with transaction.atomic(durable=True):
            _name_app_user(approver)
            act = _decidable(act.pk, approver)
            based_on = dict(act.act_titles.values_list("title_id", "based_on_version"))
            # Fixed order (primary key) so that acts on the same titles queue, never deadlock.
            titles = list(Title.objects.select_for_update().filter(pk__in=based_on).order_by("pk"))
            for title in titles:
                if title.version != based_on[title.pk]:
                    raise ConflictError(
                        f"the title changed since act {act.number} was lodged (now version "
                        f"{title.version}, lodged on version {based_on[title.pk]}); lodge it again",
                        title=str(title),
                    )
            REGISTER[act.act_type](act, titles)
            Title.objects.filter(pk__in=based_on).update(version=F("version") + 1)
            act.status = ActStatus.REGISTERED
            act.decided_by = approver
            act.decided_at = timezone.now()
            act.save(update_fields=["status", "decided_by", "decided_at"])
            with connection.cursor() as cursor:
                # Deferred guards (shares, parcel overlap) now, so that they refuse the act here
                # rather than at commit; then deferred again for whatever follows.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            entry = append_to_journal(act=act)
            certificates = _issue_certificates(act, entry)
            record_audit(
                user=approver,
                action="approve",
                object_type="act",
                object_id=act.number,
                detail={
                    "journal_position": entry.position,
                    "certificates": [certificate.number for certificate in certificates],
                },
            )
    except IntegrityError as error:
        # A guard in the database refused (a race past the checks above, or a deferred one).
        raise RuleViolation(_database_refusal(error), rule="database_guard") from error
    return act


def _database_refusal(error: Exception) -> str:
    """The first line of PostgreSQL's message: which guard refused and on which row."""
    return str(error).strip().splitlines()[0]
