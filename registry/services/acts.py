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
change           ``{"right": id, "changes": {"term_end"|"amount"|"description"|"rank": ...}}``,
                 or a change of use ``{"land_use": code, "override_reason"}``
correction       as change; ``changes`` may also hold ``holders`` and ``share_denominator``
cancellation     ``{"right": id}``
seizure          ``{"holders": [court], "description"}`` (also objection, advance_notice)
split            ``{"children": [{"geometry": GeoJSON in EPSG:4490, "land_use", "name"}]}``
merge            ``{"land_use": code (optional), "name"}``; the titles are the parents
allocation       ``{"allocations": [{"party": agency party id, "blocks": [space block ids]}]}``
                 on one building's title: each listed agency's whole new use allocation there
                 (an empty list ends it) as the lodger sees it; optionally a
                 ``description``. Lodging adds ``hidden_from_lodger``, the building's blocks
                 the lodger may not see (:func:`space_blocks_hidden_from`): they cannot be
                 listed, and each agency keeps those of them it holds there
===============  ===========================================================================

Lodging refuses an application on the wrong number of titles, or whose payload lacks a key
its act type reads or has one it does not read (:data:`PAYLOAD_SHAPES`); approval checks the
same again, then every value and rule against the register as it then is. Numbers are
refused, never rounded, when they are not whole where they must be or do not fit the
register's columns.
"""

import datetime
import getpass
import hashlib
import os
import re
import uuid
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import NamedTuple

from django.conf import settings
from django.contrib.gis.geos import GEOSException, GEOSGeometry, MultiPolygon
from django.db import DataError, IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

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
    Building,
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
    SecurityLevel,
    SourceDocument,
    SpaceBlock,
    Title,
)
from registry.selectors import SHELTER_LAYER_EVENTS, clearance_of, space_blocks_hidden_from
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
# A correction may also set who holds the right and their shares.
CORRECTABLE_FIELDS = CHANGEABLE_FIELDS | {"holders", "share_denominator"}
# A seizure (查封) freezes what the holders own: while one is current these rights are not
# transferred, changed, corrected or cancelled; the court lifts the seizure first.
FROZEN_BY_SEIZURE = EXCLUSIVE_KINDS


class Shape(NamedTuple):
    """The keys of a payload (or of an object in it): those it must and those it may have."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    def fits(self, keys) -> bool:
        return set(self.required) <= set(keys) <= {*self.required, *self.optional}

    def __str__(self) -> str:
        quoted = ", ".join(f"'{key}'" for key in self.required)
        may = ", ".join(f"'{key}'" for key in self.optional)
        if not may:
            return quoted
        if quoted:
            return _("%(required)s and optionally %(optional)s") % {
                "required": quoted,
                "optional": may,
            }
        return _("at most %(optional)s") % {"optional": may}


_CHANGE_SHAPES = [Shape(("right", "changes")), Shape(("land_use",), ("override_reason",))]
_RESTRICTION_SHAPE = Shape(("holders",), ("share_denominator", "description"))
# What each act type reads from its payload; a key it does not read would be silently
# ignored, so an application with one is refused like one missing a key it needs.
PAYLOAD_SHAPES: dict[str, list[Shape]] = {
    ActType.FIRST: [Shape(("right",))],
    ActType.TRANSFER: [Shape(("right", "transferors", "holders"), ("share_denominator",))],
    ActType.CHANGE: _CHANGE_SHAPES,
    ActType.CORRECTION: _CHANGE_SHAPES,
    ActType.CANCELLATION: [Shape(("right",))],
    ActType.SEIZURE: [_RESTRICTION_SHAPE],
    ActType.OBJECTION: [_RESTRICTION_SHAPE],
    ActType.ADVANCE_NOTICE: [_RESTRICTION_SHAPE],
    ActType.SPLIT: [Shape(("children",))],
    ActType.MERGE: [Shape((), ("land_use", "name"))],
    ActType.ALLOCATION: [Shape(("allocations",), ("description", "hidden_from_lodger"))],
}
RIGHT_SPEC_SHAPE = Shape(
    ("kind", "holders"),
    ("share_denominator", "land_use_right_type", "term_end", "amount", "rank", "description"),
)


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
    if object_type in SHELTER_LAYER_EVENTS:
        # What was read or written of the shelters (counts, numbers) depends on the clearance
        # it was done at; the log shows the event only to users cleared as far (see
        # registry.selectors.audit_events_visible_to). Without a user, as far as there is.
        detail["clearance"] = max(SecurityLevel.values) if user is None else clearance_of(user=user)
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


def _require(user, permission: str, refusal: str) -> None:
    """``refusal``: what the user may not do, naming them as ``%(user)s``."""
    if not user.has_perm(permission):
        raise NotAllowed(refusal % {"user": user.get_username()})


def _column_maximum(model, field_name: str) -> int:
    """The largest value the database column of an integer field holds."""
    field = model._meta.get_field(field_name)
    return connection.ops.integer_field_range(field.get_internal_type())[1]


ASCII_NUMBER = re.compile(r"[ \t\n\r]*[+-]?[0-9]+(\.[0-9]*)?[ \t\n\r]*")


def _whole_number(value, *, what: str, title: str, maximum: int) -> int:
    """``value`` as a whole number from 1 to ``maximum``. Anything else is refused, never
    rounded or cut: 1.9 parts are not 1 part, and party 7.5 is no party."""
    number = None
    # Digits as PostgreSQL reads them too (the guards of registry 0008 read the payload):
    # ASCII only, no full-width digits, underscores or no-break spaces, which Decimal takes.
    if (
        isinstance(value, int | float | str | Decimal)
        and not isinstance(value, bool)
        and ASCII_NUMBER.fullmatch(str(value))
    ):
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            pass
    if number is None or not number.is_finite() or number != number.to_integral_value():
        raise InvalidApplication(
            _("%(what)s must be a whole number, not %(value)s")
            % {"what": what, "value": repr(value)},
            title=title,
        )
    if not 1 <= number <= maximum:
        raise InvalidApplication(
            _("%(what)s must be from 1 to %(maximum)s, not %(value)s")
            % {"what": what, "maximum": maximum, "value": repr(value)},
            title=title,
        )
    return int(number)


def _identifier(value, *, what: str, title: str) -> int:
    # Every table's id has the one type of DEFAULT_AUTO_FIELD.
    return _whole_number(value, what=what, title=title, maximum=_column_maximum(Party, "id"))


def _text(value, *, what: str, title: str, max_length: int | None = None) -> str:
    """A text of the payload, refused when PostgreSQL could not store it or it is too long
    for its column."""
    if value is None:
        return ""
    if not isinstance(value, str | int | float | Decimal) or isinstance(value, bool):
        raise InvalidApplication(
            _("%(what)s must be a text, not %(value)s") % {"what": what, "value": repr(value)},
            title=title,
        )
    text = str(value)
    if "\x00" in text:
        raise InvalidApplication(
            _("%(what)s contains a NUL character (U+0000)") % {"what": what}, title=title
        )
    if max_length is not None and len(text) > max_length:
        raise InvalidApplication(
            _("%(what)s is %(length)s characters long, more than the %(max_length)s it may have")
            % {"what": what, "length": len(text), "max_length": max_length},
            title=title,
        )
    return text


def _holders(
    payload: dict, *, title: str, field: str = "holders"
) -> tuple[list[tuple[int, int]], int]:
    """Validated (party id, parts) pairs and the denominator; the parts must add up to it."""
    raw = payload.get(field)
    if not isinstance(raw, list) or not raw:
        raise InvalidApplication(
            _("'%(field)s' must list at least one holder") % {"field": field}, title=title
        )
    most_parts = _column_maximum(RightHolder, "share_parts")
    pairs = []
    for number, item in enumerate(raw, start=1):
        if not isinstance(item, dict) or "party" not in item:
            raise InvalidApplication(
                _("'%(field)s' entry %(number)s needs a party id and its whole-number parts")
                % {"field": field, "number": number},
                title=title,
            )
        party = _identifier(
            item["party"],
            what=_("'%(field)s' entry %(number)s: party") % {"field": field, "number": number},
            title=title,
        )
        parts = _whole_number(
            item.get("parts", 1),
            what=_("'%(field)s' entry %(number)s: parts") % {"field": field, "number": number},
            title=title,
            maximum=most_parts,
        )
        pairs.append((party, parts))
    denominator = _whole_number(
        payload.get("share_denominator", 1),
        what="'share_denominator'",
        title=title,
        maximum=_column_maximum(Right, "share_denominator"),
    )
    if len({party for party, _parts in pairs}) != len(pairs):
        raise InvalidApplication(_("a party is listed twice among the holders"), title=title)
    total = sum(parts for _party, parts in pairs)
    if total != denominator:
        raise RuleViolation(
            _("holders' shares add up to %(total)s/%(denominator)s, not 1")
            % {"total": total, "denominator": denominator},
            title=title,
            rule="shares_sum_to_one",
        )
    known = set(
        Party.objects.filter(pk__in=[party for party, _parts in pairs]).values_list("pk", flat=True)
    )
    missing = [party for party, _parts in pairs if party not in known]
    if missing:
        raise InvalidApplication(
            _("unknown party id(s) %(missing)s") % {"missing": missing}, title=title
        )
    return pairs, denominator


def _date(value, *, field: str, title: str) -> datetime.date | None:
    if value in (None, ""):
        return None
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError as error:
        raise InvalidApplication(
            _("'%(field)s' must be a date YYYY-MM-DD, not %(value)s")
            % {"field": field, "value": repr(value)},
            title=title,
        ) from error


def _amount(value, *, title: str) -> Decimal | None:
    """A secured amount in yuan: finite, positive, in fen at most (two decimals), and
    small enough for its column. Refused, never rounded."""
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as error:
        raise InvalidApplication(
            _("'amount' must be a number, not %(value)s") % {"value": repr(value)}, title=title
        ) from error
    if not amount.is_finite():
        raise InvalidApplication(
            _("'amount' must be a finite number, not %(value)s") % {"value": repr(value)},
            title=title,
        )
    field = Right._meta.get_field("amount")
    limit = Decimal(10) ** (field.max_digits - field.decimal_places)
    if abs(amount) >= limit:
        raise InvalidApplication(
            _("'amount' must be less than %(limit)s, not %(value)s")
            % {"limit": f"{limit:,}", "value": repr(value)},
            title=title,
        )
    fen = Decimal(1).scaleb(-field.decimal_places)
    if amount != amount.quantize(fen):
        raise InvalidApplication(
            _("'amount' is in yuan with at most %(places)s decimals, not %(value)s")
            % {"places": field.decimal_places, "value": repr(value)},
            title=title,
        )
    amount = amount.quantize(fen)
    if amount <= 0:
        raise RuleViolation(
            _("a mortgage secures a positive amount"), title=title, rule="mortgage_amount"
        )
    return amount


def _land_use_class(value, *, where: str, title: str) -> str:
    """The code of a GB/T 21010-2017 second-level class, refused when there is none such."""
    code = "" if value is None else str(value)
    if not LandUseClass.objects.filter(code=code, parent__isnull=False).exists():
        raise InvalidApplication(
            _("%(where)s: %(code)s is not a GB/T 21010-2017 second-level land-use class")
            % {"where": where, "code": repr(code)},
            title=title,
        )
    return code


def _parcel_name(value, *, what: str, title: str) -> str:
    return _text(
        value, what=what, title=title, max_length=Parcel._meta.get_field("name").max_length
    )


def _current(title: Title, kinds=None):
    rights = Right.objects.filter(title=title, valid_to__isnull=True)
    return rights.filter(kind__in=kinds) if kinds is not None else rights


def _refuse_if_seized(title: Title, refusal: str) -> None:
    """``refusal``: the whole message, saying what the seizure forbids."""
    if _current(title, [RightKind.SEIZURE]).exists():
        raise RuleViolation(refusal, title=str(title), rule="seized")


def _refuse_if_frozen(right: Right, act: RegistrationAct) -> None:
    """A right a seizure freezes is neither changed, corrected nor cancelled while it holds."""
    if right.kind in FROZEN_BY_SEIZURE:
        _refuse_if_seized(
            right.title,
            _(
                "the title is seized (查封): no %(act)s of right %(right)s (%(kind)s) until the "
                "seizure is lifted"
            )
            % {
                "act": act.get_act_type_display(),
                "right": right.pk,
                "kind": right.get_kind_display(),
            },
        )


def _mortgages_described(mortgages) -> str:
    return "; ".join(
        _("mortgage %(mortgage)s (rank %(rank)s, %(amount)s yuan, held by %(holders)s)")
        % {
            "mortgage": mortgage.pk,
            "rank": mortgage.rank,
            "amount": f"{mortgage.amount:,}",
            "holders": ", ".join(mortgage.holders.order_by("name").values_list("name", flat=True)),
        }
        for mortgage in mortgages
    )


def _refuse_mortgages_left_without_right(right: Right) -> None:
    """Once ``right`` has ended, no current mortgage may remain on its title: a mortgage is
    secured on what the holders own, and would be left on nothing. Checked after the act
    ended what it ends, so that mortgages it ended too do not count."""
    mortgages = list(_current(right.title, [RightKind.MORTGAGE]).order_by("rank"))
    if right.kind in EXCLUSIVE_KINDS and mortgages:
        raise RuleViolation(
            _(
                "right %(right)s (%(kind)s) secures %(mortgages)s: cancel the mortgage before "
                "the right"
            )
            % {
                "right": right.pk,
                "kind": right.get_kind_display(),
                "mortgages": _mortgages_described(mortgages),
            },
            title=str(right.title),
            rule="right_secures_mortgage",
        )


def _right_of(act: RegistrationAct, title: Title) -> Right:
    right_id = _identifier(
        act.payload.get("right"),
        what=_("'right' (the id of a right on the title)"),
        title=str(title),
    )
    right = Right.objects.filter(pk=right_id, title=title).first()
    if right is None:
        raise InvalidApplication(
            _("right %(right)s is not on this title") % {"right": right_id}, title=str(title)
        )
    if right.valid_to is not None:
        raise RuleViolation(
            _("right %(right)s (%(kind)s) is no longer current")
            % {"right": right_id, "kind": right.get_kind_display()},
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
            _("the act takes effect on %(date)s, before right %(right)s began (%(start)s)")
            % {"date": act.effective_date, "right": right.pk, "start": right.valid_from},
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


# Attributes only one kind of right has; given for another kind, they would be dropped.
ATTRIBUTE_OF_ONE_KIND = {
    "land_use_right_type": RightKind.LAND_USE_RIGHT,
    "amount": RightKind.MORTGAGE,
    "rank": RightKind.MORTGAGE,
}


def _right_attributes(spec: dict, *, kind: str, title: str) -> dict:
    for field, owner in ATTRIBUTE_OF_ONE_KIND.items():
        if kind != owner and spec.get(field) not in (None, ""):
            raise InvalidApplication(
                _("'%(field)s' is given, but a %(kind)s has none (only a %(owner)s has)")
                % {
                    "field": field,
                    "kind": RightKind(kind).label,
                    "owner": RightKind(owner).label,
                },
                title=title,
            )
    attributes = {
        "land_use_right_type": spec.get("land_use_right_type") or "",
        "term_end": _date(spec.get("term_end"), field="term_end", title=title),
        "amount": _amount(spec.get("amount"), title=title),
        "rank": None,
        "description": _text(spec.get("description"), what="'description'", title=title),
    }
    if kind == RightKind.LAND_USE_RIGHT and attributes["land_use_right_type"] not in (
        "allocated",
        "granted",
    ):
        raise InvalidApplication(
            _("a land-use right is 'allocated' (划拨) or 'granted' (出让)"), title=title
        )
    if attributes["land_use_right_type"] == "granted" and attributes["term_end"] is None:
        raise InvalidApplication(_("a granted land-use right needs its term_end"), title=title)
    if kind == RightKind.MORTGAGE:
        if attributes["amount"] is None:
            raise InvalidApplication(_("a mortgage needs its amount"), title=title)
        attributes["rank"] = _whole_number(
            spec.get("rank"),
            what=_("a mortgage's 'rank'"),
            title=title,
            maximum=_column_maximum(Right, "rank"),
        )
    return attributes


def _refuse_taken_rank(title: Title, rank: int, *, excluding: int | None = None) -> None:
    taken = _current(title, [RightKind.MORTGAGE]).filter(rank=rank).exclude(pk=excluding)
    if taken.exists():
        raise RuleViolation(
            _("a current mortgage of rank %(rank)s is already registered") % {"rank": rank},
            title=str(title),
            rule="mortgage_rank_taken",
        )


# --- the effect of each act type -------------------------------------------------------


def _refuse_overlapping_exclusive_right(title: Title, kind: str, start: datetime.date) -> None:
    """One holder at a time: a right of an exclusive kind, in force from ``start`` on, may
    not overlap any right of that kind on the title, current or ended (a backdated first
    registration would otherwise put two in force on the same days)."""
    overlapping = (
        Right.objects.filter(title=title, kind=kind)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=start))
        .order_by("valid_from")
        .first()
    )
    if overlapping is not None:
        until = (
            _("until %(date)s") % {"date": overlapping.valid_to}
            if overlapping.valid_to
            else _("and is current")
        )
        raise RuleViolation(
            _(
                "a %(kind)s (right %(right)s) is registered from %(start)s %(until)s: another "
                "from %(new)s would be in force on the same days"
            )
            % {
                "kind": RightKind(kind).label,
                "right": overlapping.pk,
                "start": overlapping.valid_from,
                "until": until,
                "new": start,
            },
            title=str(title),
            rule="already_registered",
        )


def _register_first(act, titles):
    (title,) = titles
    spec = act.payload["right"]
    kind = spec.get("kind")
    if kind not in KINDS_BY_FIRST_REGISTRATION:
        raise InvalidApplication(
            _("a first registration registers one of %(kinds)s, not %(kind)s")
            % {"kinds": str(KINDS_BY_FIRST_REGISTRATION), "kind": repr(kind)},
            title=str(title),
        )
    holders, denominator = _holders(spec, title=str(title))
    attributes = _right_attributes(spec, kind=kind, title=str(title))
    if kind in EXCLUSIVE_KINDS:
        _refuse_overlapping_exclusive_right(title, kind, act.effective_date)
    if kind == RightKind.MORTGAGE:
        _refuse_if_seized(
            title, _("the title is seized (查封): no mortgage until the seizure is lifted")
        )
        _refuse_taken_rank(title, attributes["rank"])
    _create_right(
        act=act, title=title, kind=kind, holders=holders, denominator=denominator, **attributes
    )


def _register_transfer(act, titles):
    (title,) = titles
    right = _right_of(act, title)
    if right.kind not in TRANSFERABLE_KINDS:
        raise RuleViolation(
            _("a %(kind)s is not transferred by transfer registration")
            % {"kind": right.get_kind_display()},
            title=str(title),
            rule="not_transferable",
        )
    _refuse_if_seized(
        title, _("the title is seized (查封): no transfer until the seizure is lifted")
    )
    current = set(right.shares.values_list("party_id", flat=True))
    listed = act.payload["transferors"]
    if not isinstance(listed, list):
        raise InvalidApplication(_("'transferors' must list party ids"), title=str(title))
    transferors = {
        _identifier(
            party, what=_("'transferors' entry %(number)s") % {"number": number}, title=str(title)
        )
        for number, party in enumerate(listed, start=1)
    }
    if transferors != current:
        names = ", ".join(
            sorted(Party.objects.filter(pk__in=current).values_list("name", flat=True))
        )
        raise RuleViolation(
            _("a transfer must come from the current holders (%(names)s)") % {"names": names},
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
    code = _land_use_class(act.payload["land_use"], where="'land_use'", title=str(title))
    if code == parcel.land_use_id:
        raise InvalidApplication(
            _("the parcel's use is already %(code)s") % {"code": code}, title=str(title)
        )
    verdict = plan_verdict(parcel=parcel, land_use=code)
    override = str(act.payload.get("override_reason") or "").strip()
    if verdict.conforms is False and not override:
        raise RuleViolation(
            _(
                "use %(code)s does not conform to the plan, which gives %(planned)s for "
                "%(share)s of the parcel; give an override reason to register it anyway"
            )
            % {"code": code, "planned": verdict.planned, "share": f"{verdict.share:.0%}"},
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
    _refuse_if_frozen(right, act)
    changes = act.payload["changes"]
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
    changed = _create_right(
        act=act,
        title=title,
        kind=right.kind,
        holders=holders,
        denominator=denominator,
        **attributes,
    )
    # A changed use allocation still allocates the same blocks.
    AllocatedBlock.objects.bulk_create(
        [
            AllocatedBlock(right=changed, block_id=block.block_id)
            for block in right.allocated_blocks.all()
        ]
    )


def _register_cancellation(act, titles):
    (title,) = titles
    right = _right_of(act, title)
    _refuse_if_frozen(right, act)
    _end_right(right, act)
    _refuse_mortgages_left_without_right(right)


def _register_restriction(act, titles):
    (title,) = titles
    holders, denominator = _holders(act.payload, title=str(title))
    _create_right(
        act=act,
        title=title,
        kind=RESTRICTION_OF_ACT[act.act_type],
        holders=holders,
        denominator=denominator,
        description=_text(act.payload.get("description"), what="'description'", title=str(title)),
    )


def _parcel_title(title: Title) -> Parcel:
    parcel = title.parcel
    if parcel is None:
        raise InvalidApplication(_("splits and merges are of parcels"), title=str(title))
    if not title.is_open or parcel.valid_to is not None:
        raise RuleViolation(
            _("the parcel is already retired"), title=str(title), rule="parcel_retired"
        )
    return parcel


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
        raise RuleViolation(
            _("subzone %(subzone)s has no parcel numbers left") % {"subzone": subzone},
            rule="no_unit_codes",
        )
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
            _("the act takes effect on %(date)s, not after the parcel began")
            % {"date": act.effective_date},
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
        raise InvalidApplication(_("a split needs at least two children"), title=str(title))
    result = []
    for number, child in enumerate(children, start=1):
        try:
            geometry = GEOSGeometry(str(child["geometry"]))
        except (KeyError, TypeError, ValueError, GEOSException) as error:
            raise InvalidApplication(
                _("child %(number)s: 'geometry' is not a readable geometry") % {"number": number},
                title=str(title),
            ) from error
        if geometry.srid not in (None, 4326, STORAGE_SRID):
            raise InvalidApplication(
                _(
                    "child %(number)s: give the geometry in EPSG:%(srid)s longitude/latitude, "
                    "not EPSG:%(given)s"
                )
                % {"number": number, "srid": STORAGE_SRID, "given": geometry.srid},
                title=str(title),
            )
        # GeoJSON reads as EPSG:4326; its coordinates are taken as CGCS2000 longitude/latitude.
        geometry.srid = STORAGE_SRID
        if geometry.geom_type == "Polygon":
            geometry = MultiPolygon(geometry, srid=geometry.srid)
        if not isinstance(geometry, MultiPolygon) or geometry.empty or not geometry.valid:
            raise InvalidApplication(
                _("child %(number)s: the geometry must be a valid, non-empty polygon (%(why)s)")
                % {
                    "number": number,
                    "why": geometry.valid_reason if not geometry.valid else geometry.geom_type,
                },
                title=str(title),
            )
        land_use = _land_use_class(
            child.get("land_use") or title.parcel.land_use_id,
            where=_("child %(number)s: 'land_use'") % {"number": number},
            title=str(title),
        )
        name = _parcel_name(
            child.get("name"),
            what=_("child %(number)s: 'name'") % {"number": number},
            title=str(title),
        )
        result.append((geometry, land_use, name))
    return result


def _move_buildings(parents: list[Parcel], children: list[Parcel]) -> None:
    """A building stands on the parcel holding most of its footprint: the current buildings
    of retired parents go to the child that holds most of theirs (the nearest child, for a
    footprint that lies outside them all). Retired buildings keep the parcel they stood on."""
    for building in Building.objects.filter(parcel__in=parents, valid_to__isnull=True):
        building.parcel = max(
            children,
            key=lambda child: (
                building.footprint.intersection(child.geom).area,
                -building.footprint.distance(child.geom),
            ),
        )
        building.save(update_fields=["parcel"])


def _refuse_split_if_mortgaged(title: Title) -> None:
    """Each child of a split would carry the whole secured amount: the register does not
    apportion a mortgage between parcels, so the registrar has it discharged first."""
    mortgages = list(_current(title, [RightKind.MORTGAGE]).order_by("rank"))
    if mortgages:
        raise RuleViolation(
            _(
                "%(mortgages)s is registered on the parcel, and a split would give each child "
                "the whole amount: cancel the mortgage first, then register each child's share "
                "of it as its own mortgage"
            )
            % {"mortgages": _mortgages_described(mortgages)},
            title=str(title),
            rule="mortgaged",
        )


def _register_split(act, titles):
    (title,) = titles
    parent = _parcel_title(title)
    _refuse_if_seized(title, _("the title is seized (查封): no split until the seizure is lifted"))
    _refuse_split_if_mortgaged(title)
    children = _children_geometries(act, title)
    tolerance = settings.LANDLEDGER_OVERLAP_TOLERANCE_M2
    union = children[0][0]
    for geometry, _land_use, _name in children[1:]:
        union = union.union(geometry)
    parent_area = _area_m2(parent.geom)
    children_area = sum(_area_m2(geometry) for geometry, _land_use, _name in children)
    gap_or_excess = (
        _area_m2(parent.geom.sym_difference(union)) if not union.equals(parent.geom) else 0.0
    )
    if abs(parent_area - children_area) > tolerance or gap_or_excess > tolerance:
        raise RuleViolation(
            _(
                "the children must cover exactly the parent: parent %(parent)s m², children "
                "%(children)s m², %(difference)s m² differ (tolerance %(tolerance)s m²)"
            )
            % {
                "parent": f"{parent_area:.1f}",
                "children": f"{children_area:.1f}",
                "difference": f"{gap_or_excess:.1f}",
                "tolerance": tolerance,
            },
            title=str(title),
            rule="children_cover_parent",
        )
    rights = _retire_parcel(parent, title, act)
    child_parcels = []
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
        child_parcels.append(child)
    _move_buildings([parent], child_parcels)


def _holding(right: Right) -> dict[int, Fraction]:
    """Each holder's share of ``right``, as a fraction: 1/2 and 2/4 are the same holding."""
    return {
        share.party_id: Fraction(share.share_parts, right.share_denominator)
        for share in right.shares.all()
    }


def _holding_described(right: Right | None) -> str:
    if right is None:
        return _("none")
    return ", ".join(
        f"{share.party.name} {share.share_parts}/{right.share_denominator}"
        for share in right.shares.select_related("party").order_by("party__name")
    )


def _shown(value) -> str:
    """A term of a right as a message shows it: a date as it is written, a text quoted."""
    if value is None or value == "":
        return _("none")
    return repr(value) if isinstance(value, str) else str(value)


# What must be the same in the exclusive rights of parcels merged into one: the merged
# parcel carries one right of each kind, on the same terms for all of its land.
TERMS_OF_EXCLUSIVE_RIGHTS = ("land_use_right_type", "term_end", "description")


def _refuse_differing_exclusive_rights(titles: list[Title]) -> None:
    """Parents are merged only when their exclusive rights are held by the same parties in
    the same shares and on the same terms; the message says which differ and how."""
    label = ", ".join(str(title) for title in titles)
    rights_of = {
        title: {right.kind: right for right in _current(title, EXCLUSIVE_KINDS)} for title in titles
    }
    first = titles[0]
    for other in titles[1:]:
        for kind in EXCLUSIVE_KINDS:
            mine, theirs = rights_of[first].get(kind), rights_of[other].get(kind)
            if mine is None and theirs is None:
                continue
            name = RightKind(kind).label
            if (mine is None or theirs is None) or _holding(mine) != _holding(theirs):
                raise RuleViolation(
                    _(
                        "the %(kind)s of %(first)s is held by %(mine)s, of %(other)s by "
                        "%(theirs)s: parcels held differently cannot be merged"
                    )
                    % {
                        "kind": name,
                        "first": first,
                        "mine": _holding_described(mine),
                        "other": other,
                        "theirs": _holding_described(theirs),
                    },
                    title=label,
                    rule="holders_differ",
                )
            for term in TERMS_OF_EXCLUSIVE_RIGHTS:
                ours, others = getattr(mine, term), getattr(theirs, term)
                if ours != others:
                    raise RuleViolation(
                        _(
                            "the %(kind)s of %(first)s has %(term)s %(ours)s, of %(other)s "
                            "%(others)s: parcels held on different terms cannot be merged"
                        )
                        % {
                            "kind": name,
                            "first": first,
                            "term": term,
                            "ours": _shown(ours),
                            "other": other,
                            "others": _shown(others),
                        },
                        title=label,
                        rule="terms_differ",
                    )


def _register_merge(act, titles):
    parents = [_parcel_title(title) for title in titles]
    label = ", ".join(str(title) for title in titles)
    if len({parent.district_id for parent in parents}) != 1:
        raise RuleViolation(
            _("the parcels lie in different districts"),
            title=label,
            rule="parents_in_one_district",
        )
    for title in titles:
        if _current(title, RESTRICTIONS_BLOCKING_MERGE).exists():
            raise RuleViolation(
                _(
                    "a mortgage, seizure, objection or advance notice is registered; "
                    "cancel it before merging"
                ),
                title=str(title),
                rule="restricted",
            )
    _refuse_differing_exclusive_rights(titles)
    union = parents[0].geom
    for parent in parents[1:]:
        union = union.union(parent.geom)
    if union.geom_type != "Polygon" and union.num_geom != 1:
        raise RuleViolation(
            _("the parcels do not form one connected area"),
            title=label,
            rule="parents_not_adjacent",
        )
    union = MultiPolygon(union, srid=STORAGE_SRID) if union.geom_type == "Polygon" else union
    land_use = _land_use_class(
        act.payload.get("land_use") or parents[0].land_use_id, where="'land_use'", title=label
    )
    name = _parcel_name(act.payload.get("name"), what="'name'", title=label)
    code = _next_unit_codes(parents[0].unit_code, 1)[0]
    rights_of_parents = [
        _retire_parcel(parent, title, act) for parent, title in zip(parents, titles, strict=True)
    ]
    child, child_title = _new_parcel(
        act=act, code=code, geometry=union, land_use=land_use, name=name, parent=parents[0]
    )
    for parent in parents:
        ParcelLineage.objects.create(parent=parent, child=child, act=act)
    # The parents' exclusive rights are alike (checked above): the child takes the first's
    # once. Every other right (a lease, an easement...) of every parent goes with its land.
    carried = [right for right in rights_of_parents[0] if right.kind in EXCLUSIVE_KINDS] + [
        right
        for rights in rights_of_parents
        for right in rights
        if right.kind not in EXCLUSIVE_KINDS
    ]
    for right in carried:
        _copy_right(right, act=act, title=child_title)
    ActTitle.objects.create(act=act, title=child_title, based_on_version=0)
    _move_buildings(parents, [child])


def _allocation_entries(act, title) -> list[tuple[int, list[int]]]:
    """(agency party id, block ids) pairs of an allocation act, checked for form."""
    entries = act.payload.get("allocations")
    if not isinstance(entries, list) or not entries:
        raise InvalidApplication(
            _("'allocations' must list at least one agency and its blocks"), title=str(title)
        )
    parsed = []
    for number, entry in enumerate(entries, start=1):
        if (
            not isinstance(entry, dict)
            or "party" not in entry
            or not isinstance(entry.get("blocks", []), list)
        ):
            raise InvalidApplication(
                _("allocation %(number)s: needs an agency's party id and a list of block ids")
                % {"number": number},
                title=str(title),
            )
        party = _identifier(
            entry["party"],
            what=_("allocation %(number)s: 'party'") % {"number": number},
            title=str(title),
        )
        blocks = [
            _identifier(
                block, what=_("allocation %(number)s: block") % {"number": number}, title=str(title)
            )
            for block in entry.get("blocks", [])
        ]
        parsed.append((party, blocks))
    parties = [party for party, _blocks in parsed]
    if len(set(parties)) != len(parties):
        raise InvalidApplication(_("an agency is listed twice"), title=str(title))
    listed = [block for _party, blocks in parsed for block in blocks]
    if len(set(listed)) != len(listed):
        raise InvalidApplication(_("a block is given to two agencies"), title=str(title))
    return parsed


def _with_blocks_hidden_from_lodger(payload: dict, title: Title, lodger) -> dict:
    """The allocation ``payload`` with the building's blocks the lodger may not see, as they
    are at lodging: the act may neither name nor end them, whatever their classification
    when it is approved. Set here, never taken from the application."""
    hidden = sorted(
        space_blocks_hidden_from(clearance=clearance_of(user=lodger))
        # A title on no building (refused at registration) matches no block: IS NULL.
        .filter(building_id=title.building_id)  # type: ignore[misc]
        .values_list("pk", flat=True)
    )
    entries = payload.get("allocations")
    listed = {
        block
        for entry in (entries if isinstance(entries, list) else [])
        if isinstance(entry, dict) and isinstance(entry.get("blocks"), list)
        for block in entry["blocks"]
        if isinstance(block, int)
    }
    named = sorted(listed & set(hidden))
    if named:
        # In the words used for a block that does not exist: the refusal gives nothing away.
        raise InvalidApplication(
            _("block %(block)s is not a space block of this building") % {"block": named[0]},
            title=str(title),
        )
    return {**payload, "hidden_from_lodger": hidden}


def _blocks_hidden_from_lodger(act, title) -> set[int]:
    """The blocks lodging recorded as hidden from the lodger (none for acts lodged before
    lodging recorded them)."""
    hidden = act.payload.get("hidden_from_lodger", [])
    if not isinstance(hidden, list) or not all(
        isinstance(block, int) and not isinstance(block, bool) for block in hidden
    ):
        raise InvalidApplication(_("'hidden_from_lodger' must list block ids"), title=str(title))
    return set(hidden)


def _register_allocation(act, titles):
    """使用调配: the listed agencies' use allocations in one building are replaced by the
    blocks given, each as a use-allocation right on the building's title listing its blocks
    (see :mod:`registry.models.space`)."""
    (title,) = titles
    if title.building_id is None:
        raise InvalidApplication(_("use allocations are of space in a building"), title=str(title))
    building = title.building
    entries = _allocation_entries(act, title)
    description = _text(act.payload.get("description"), what="'description'", title=str(title))
    hidden = _blocks_hidden_from_lodger(act, title)
    agencies = Agency.objects.select_related("party").in_bulk([party for party, _blocks in entries])
    wanted = [block for _party, blocks in entries for block in blocks]
    blocks = SpaceBlock.objects.in_bulk(wanted)
    for party, block_ids in entries:
        agency = agencies.get(party)
        if agency is None:
            raise InvalidApplication(
                _("party %(party)s is not an agency: office space is allocated to agencies")
                % {"party": party},
                title=str(title),
            )
        if block_ids and building.premises_classification > agency.clearance:
            raise RuleViolation(
                _(
                    "%(agency)s is cleared to level %(clearance)s, the premises are classified "
                    "%(classification)s"
                )
                % {
                    "agency": agency,
                    "clearance": f"{agency.clearance}",
                    "classification": f"{building.premises_classification}",
                },
                title=str(title),
                rule="premises_above_clearance",
            )
        for block_id in block_ids:
            block = blocks.get(block_id)
            # A hidden block is refused in the words used for one that does not exist.
            if block is None or block.building_id != building.pk or block_id in hidden:
                raise InvalidApplication(
                    _("block %(block)s is not a space block of this building")
                    % {"block": block_id},
                    title=str(title),
                )
            if block.valid_to is not None:
                raise RuleViolation(
                    _("block %(block)s is retired") % {"block": block.label},
                    title=str(title),
                    rule="block_retired",
                )
            if block.area_m2 is None:
                raise RuleViolation(
                    _("block %(block)s has no surveyed area; survey it before allocating it")
                    % {"block": block.label},
                    title=str(title),
                    rule="block_without_area",
                )
    listed_parties = [party for party, _blocks in entries]
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
            _(
                "block %(block)s is allocated to %(holder)s (right %(right)s); list that agency "
                "too to move it"
            )
            % {
                "block": held_elsewhere.block.label,
                "holder": holder,
                "right": held_elsewhere.right_id,
            },
            title=str(title),
            rule="block_already_allocated",
        )
    # Each agency keeps the blocks hidden from the lodger that it holds here.
    kept = {}
    for party, block_id in AllocatedBlock.objects.filter(
        right__in=ending, block_id__in=hidden
    ).values_list("right__shares__party_id", "block_id"):
        kept.setdefault(party, []).append(block_id)
    entries = [(party, block_ids + kept.get(party, [])) for party, block_ids in entries]
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
            description=description,
        )
        AllocatedBlock.objects.bulk_create(
            [AllocatedBlock(right=right, block_id=block) for block in sorted(block_ids)]
        )


REGISTER: dict[str, Callable[[RegistrationAct, list[Title]], object]] = {
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
        sequence, _created = CertificateSequence.objects.get_or_create(
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
    title, _created = Title.objects.get_or_create(**{field: unit})
    return title


def _refuse_wrong_shape(keys, shapes: list[Shape], *, what: str, title: str) -> None:
    if not any(shape.fits(keys) for shape in shapes):
        expected = str(shapes[0])
        for shape in shapes[1:]:
            expected = _("%(expected)s or %(shape)s") % {"expected": expected, "shape": str(shape)}
        if keys:
            message = _("%(what)s holds %(expected)s, not %(keys)s") % {
                "what": what,
                "expected": expected,
                "keys": sorted(keys),
            }
        else:
            message = _("%(what)s holds %(expected)s, not nothing") % {
                "what": what,
                "expected": expected,
            }
        raise InvalidApplication(message, title=title)


def _check_application(act_type: str, titles: list[Title], payload) -> None:
    """What can be refused without reading the register, at lodging and again at approval:
    the number of titles the act type concerns, and the keys of its payload (the values
    are read and checked at approval, against the register as it then is)."""
    if not titles:
        raise InvalidApplication(_("an act concerns at least one title"))
    label = ", ".join(str(title) for title in titles)
    name = ActType(act_type).label
    if len({title.pk for title in titles}) != len(titles):
        raise InvalidApplication(_("a title is listed twice"), title=label)
    if act_type == ActType.MERGE:
        if len(titles) < 2:
            raise InvalidApplication(_("a merge needs at least two parcels"), title=label)
    elif len(titles) != 1:
        raise InvalidApplication(
            _("a %(act)s concerns one title, not %(count)s") % {"act": name, "count": len(titles)},
            title=label,
        )
    if not isinstance(payload, dict):
        raise InvalidApplication(_("the application's details must be an object"), title=label)
    _refuse_wrong_shape(
        payload, PAYLOAD_SHAPES[act_type], what=_("a %(act)s") % {"act": name}, title=label
    )
    if act_type == ActType.FIRST:
        if not isinstance(payload["right"], dict):
            raise InvalidApplication(_("'right' must describe the right to register"), title=label)
        _refuse_wrong_shape(payload["right"], [RIGHT_SPEC_SHAPE], what="'right'", title=label)
    if "changes" in payload:
        changes = payload["changes"]
        allowed = CORRECTABLE_FIELDS if act_type == ActType.CORRECTION else CHANGEABLE_FIELDS
        if not isinstance(changes, dict) or not changes or set(changes) - allowed:
            raise InvalidApplication(
                _("'changes' of a %(act)s must change some of %(allowed)s")
                % {"act": name, "allowed": sorted(allowed)},
                title=label,
            )
        if "share_denominator" in changes and "holders" not in changes:
            raise InvalidApplication(
                _("'share_denominator' is corrected together with the 'holders' it divides"),
                title=label,
            )


@contextmanager
def _database_refusals():
    """A guard or a column of the database refusing what the checks let through refuses
    the application, never fails the request: the transaction rolled back, nothing is
    written."""
    try:
        yield
    except IntegrityError as error:
        # A guard refused: a race past the checks, or a deferred guard.
        raise RuleViolation(_database_refusal(error), rule="database_guard") from error
    except DataError as error:
        # A value the checks let through that its column cannot hold.
        raise InvalidApplication(_database_refusal(error), rule="database_guard") from error


def lodge_act(
    *,
    act_type: str,
    titles: list[Title],
    payload: dict,
    effective_date: datetime.date,
    lodged_by,
    based_on_versions: dict[int, int] | None = None,
    sources: Sequence[Source] = (),
) -> RegistrationAct:
    """Lodge an application on ``titles``, as seen at ``based_on_versions`` (title id →
    version; the current versions when omitted)."""
    _require(lodged_by, "registry.lodge_act", _("%(user)s may not lodge registration acts"))
    if act_type not in ActType.values:
        raise InvalidApplication(
            _("unknown act type %(act_type)s; one of %(act_types)s")
            % {"act_type": repr(act_type), "act_types": ActType.values}
        )
    _check_application(act_type, titles, payload)
    if effective_date > timezone.localdate():
        # The register shows what is in force today as its current state (map, search,
        # certificates): an act dated ahead would show parcels and holders not yet in force.
        raise InvalidApplication(
            _(
                "the act takes effect on %(date)s, after today (%(today)s): "
                "lodge it on or after the day it takes effect"
            )
            % {"date": effective_date, "today": timezone.localdate()}
        )
    if act_type == ActType.ALLOCATION:
        payload = _with_blocks_hidden_from_lodger(payload, titles[0], lodged_by)
    with _database_refusals(), transaction.atomic(durable=True):
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
                    _(
                        "the title is at version %(current)s, the application was prepared on "
                        "version %(based_on)s; reload it"
                    )
                    % {"current": current[title.pk], "based_on": versions[title.pk]},
                    title=str(title),
                )
            if not title.is_open:
                raise RuleViolation(
                    _("the title is closed (its unit was split, merged or retired)"),
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
            _("the unit sits on no parcel, so no registration office is known"),
            title=str(title),
        )
    return parcel.district


def examine_act(*, act: RegistrationAct, examiner, note: str = "") -> RegistrationAct:
    _require(examiner, "registry.lodge_act", _("%(user)s may not examine registration acts"))
    with transaction.atomic(durable=True):
        _name_app_user(examiner)
        act = RegistrationAct.objects.select_for_update().get(pk=act.pk)
        if act.status != ActStatus.LODGED:
            raise WrongState(
                _("act %(number)s is %(status)s, not lodged")
                % {"number": act.number, "status": act.get_status_display()}
            )
        act.status = ActStatus.EXAMINED
        act.examined_by = examiner
        act.examined_at = timezone.now()
        act.examination_note = note
        act.save(update_fields=["status", "examined_by", "examined_at", "examination_note"])
        record_audit(user=examiner, action="examine", object_type="act", object_id=act.number)
    return act


def _decidable(act_pk: int, decider) -> RegistrationAct:
    _require(
        decider,
        "registry.decide_act",
        _("%(user)s may not approve or reject registration acts"),
    )
    act = RegistrationAct.objects.select_for_update().get(pk=act_pk)
    if act.status != ActStatus.EXAMINED:
        raise WrongState(
            _("act %(number)s is %(status)s; only examined acts are decided")
            % {"number": act.number, "status": act.get_status_display()}
        )
    if act.examined_by_id == decider.pk:
        raise NotAllowed(
            _("%(user)s examined act %(number)s and cannot also decide it")
            % {"user": decider.get_username(), "number": act.number},
            rule="examiner_cannot_approve",
        )
    return act


def reject_act(*, act: RegistrationAct, decider, reason: str) -> RegistrationAct:
    if not reason.strip():
        raise InvalidApplication(_("a rejection needs its reason"))
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
    with _database_refusals(), transaction.atomic(durable=True):
        _name_app_user(approver)
        act = _decidable(act.pk, approver)
        based_on = dict(act.act_titles.values_list("title_id", "based_on_version"))
        # Fixed order (primary key) so that acts on the same titles queue, never deadlock.
        titles = list(Title.objects.select_for_update().filter(pk__in=based_on).order_by("pk"))
        for title in titles:
            if title.version != based_on[title.pk]:
                raise ConflictError(
                    _(
                        "the title changed since act %(number)s was lodged (now version "
                        "%(version)s, lodged on version %(based_on)s); lodge it again"
                    )
                    % {
                        "number": act.number,
                        "version": title.version,
                        "based_on": based_on[title.pk],
                    },
                    title=str(title),
                )
        # As at lodging: an act lodged before these checks existed is refused here.
        _check_application(act.act_type, titles, act.payload)
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
    return act


def _database_refusal(error: Exception) -> str:
    """The first line of PostgreSQL's message: which guard refused and on which row."""
    return str(error).strip().splitlines()[0]
