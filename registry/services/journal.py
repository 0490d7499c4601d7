"""The tamper-evident journal: one entry per registered act, chained by SHA-256.

``entry_hash = sha256(previous_hash + "\\n" + payload)``, where ``payload`` is the canonical
JSON (sorted keys, no spaces, UTF-8) of the facts the act registered, read back from the
register's own rows. :func:`verify_journal` recomputes both the chain and every payload, so
it notices a changed journal row and a register row changed after the fact alike.
"""

import hashlib
import json
from dataclasses import dataclass

from django.db import connection
from django.utils.translation import gettext as _

from registry.models import JournalEntry, ParcelLineage, RegistrationAct, RightKind

GENESIS_HASH = "0" * 64


def canonical_json(data) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(previous_hash: str, payload: str) -> str:
    return hashlib.sha256(f"{previous_hash}\n{payload}".encode()).hexdigest()


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _parcel_digests(parcel_ids: list[int]) -> list[dict]:
    if not parcel_ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, unit_code, encode(sha256(ST_AsEWKB(geom)), 'hex'), valid_from, valid_to "
            "FROM registry_parcel WHERE id = ANY(%s) ORDER BY id",
            [parcel_ids],
        )
        return [
            {"id": pk, "unit_code": code, "geom_sha256": digest, "valid_from": _iso(start)}
            for pk, code, digest, start, _end in cursor.fetchall()
        ]


def serialize_act(act: RegistrationAct) -> dict:
    """The facts an act registered, from the register's rows; only what no later act changes."""
    rights = []
    for right in act.rights_registered.order_by("id").prefetch_related("shares"):
        sealed = {
            "id": right.id,
            "title": right.title_id,
            "kind": right.kind,
            "land_use_right_type": right.land_use_right_type,
            "term_end": _iso(right.term_end),
            "amount": None if right.amount is None else str(right.amount),
            "rank": right.rank,
            "description": right.description,
            "valid_from": _iso(right.valid_from),
            "share_denominator": right.share_denominator,
            "holders": sorted([share.party_id, share.share_parts] for share in right.shares.all()),
        }
        blocks = (
            sorted(right.allocated_blocks.values_list("block_id", flat=True))
            if right.kind == RightKind.USE_ALLOCATION
            else []
        )
        if blocks:
            # The rooms a use allocation covers are part of what it registered.
            sealed["blocks"] = blocks
        rights.append(sealed)
    lineage = list(ParcelLineage.objects.filter(act=act).values_list("parent_id", "child_id"))
    examiner, approver = act.examined_by, act.decided_by
    if examiner is None or approver is None or act.decided_at is None:
        raise ValueError(f"act {act.number} was not examined and approved: it cannot be sealed")
    return {
        "act": {
            "number": act.number,
            "type": act.act_type,
            "office": act.office.code,
            "effective_date": _iso(act.effective_date),
            "lodged_by": act.lodged_by.username,
            "examined_by": examiner.username,
            "approved_by": approver.username,
            "lodged_at": _iso(act.lodged_at),
            "registered_at": _iso(act.decided_at),
        },
        "titles": sorted(
            [title_id, version]
            for title_id, version in act.act_titles.values_list("title_id", "based_on_version")
        ),
        "rights_registered": rights,
        "rights_ended": sorted(act.rights_cancelled.values_list("id", flat=True)),
        # What was asked, as lodged (a change of use, a split's children...): never changed after.
        "application": act.payload,
        "lineage": sorted([parent, child] for parent, child in lineage),
        "parcels_created": _parcel_digests(sorted({child for _parent, child in lineage})),
        "sources": sorted(
            [source.kind, source.file_name, source.sha256] for source in act.sources.all()
        ),
    }


def append_to_journal(*, act: RegistrationAct) -> JournalEntry:
    """Seal a registered act as the next entry. Call inside the act's transaction."""
    with connection.cursor() as cursor:
        # One writer at a time: positions without gaps, each entry chained to the last.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('landledger.journal'))")
    last = JournalEntry.objects.order_by("-position").first()
    position = last.position + 1 if last else 1
    previous_hash = last.entry_hash if last else GENESIS_HASH
    payload = canonical_json({"position": position, **serialize_act(act)})
    assert act.decided_at is not None  # serialize_act refuses an act not approved
    return JournalEntry.objects.create(
        position=position,
        act=act,
        recorded_at=act.decided_at,
        payload=payload,
        previous_hash=previous_hash,
        entry_hash=chain_hash(previous_hash, payload),
    )


@dataclass
class JournalCheck:
    entries_checked: int
    first_bad_position: int | None = None
    reason: str = ""

    @property
    def intact(self) -> bool:
        return self.first_bad_position is None


def verify_journal(*, progress=None) -> JournalCheck:
    """Recompute the chain from the first entry; stop at the first entry that does not hold."""
    expected_previous = GENESIS_HASH
    checked = 0
    entries = JournalEntry.objects.order_by("position").select_related(
        "act__office", "act__lodged_by", "act__examined_by", "act__decided_by"
    )
    for entry in entries.iterator(chunk_size=500):
        checked += 1
        if progress:
            progress()
        problem = ""
        if entry.position != checked:
            problem = _("position %(position)s where %(expected)s was expected (a gap)") % {
                "position": entry.position,
                "expected": checked,
            }
        elif entry.previous_hash != expected_previous:
            problem = _("previous_hash does not match the hash of the entry before it")
        elif chain_hash(entry.previous_hash, entry.payload) != entry.entry_hash:
            problem = _("entry_hash does not match its payload")
        elif entry.payload != canonical_json(
            {"position": entry.position, **serialize_act(entry.act)}
        ):
            problem = _("the register's rows for act %(act)s differ from the sealed payload") % {
                "act": entry.act.number
            }
        if problem:
            return JournalCheck(checked, entry.position, problem)
        expected_previous = entry.entry_hash
    return JournalCheck(checked)
