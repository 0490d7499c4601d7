"""An act's application (its payload, as lodged) in words a registrar reads: parties and
rights by name instead of their ids. The payload itself stays the record; this only shows it."""

from django.utils.translation import gettext_lazy as _

from registry.models import Party, Right

# Keys whose values are party ids, one or a list.
PARTY_KEYS = {"party", "transferors"}
RIGHT_KEYS = {"right"}
# Longer texts (a split's GeoJSON) are cut: the whole stays in the JSON shown beside.
LONGEST_SHOWN = 160
LABELS = {
    "right": _("Right"),
    "kind": _("Kind"),
    "land_use_right_type": _("Land-use right type"),
    "term_end": _("Term end"),
    "amount": _("Amount (CNY)"),
    "rank": _("Mortgage rank"),
    "description": _("Description"),
    "holders": _("Holders"),
    "party": _("Party"),
    "parts": _("Parts"),
    "share_denominator": _("Shares out of"),
    "transferors": _("Transferors"),
    "changes": _("Changes"),
    "children": _("New parcels"),
    "geometry": _("Geometry"),
    "name": _("Name"),
    "land_use": _("Land use"),
    "override_reason": _("Override reason"),
    "allocations": _("Allocations"),
    "blocks": _("Rooms (space blocks)"),
    "hidden_from_lodger": _("Rooms the lodger could not see"),
}


def _ids(value) -> list:
    values = value if isinstance(value, list) else [value]
    return [item for item in values if isinstance(item, int) and not isinstance(item, bool)]


def _collect(payload, parties: set, rights: set) -> None:
    if isinstance(payload, dict):
        for key, value in payload.items():
            if key in PARTY_KEYS:
                parties.update(_ids(value))
            elif key in RIGHT_KEYS:
                rights.update(_ids(value))
            _collect(value, parties, rights)
    elif isinstance(payload, list):
        for item in payload:
            _collect(item, parties, rights)


def application_rows(payload) -> list[tuple[int, str, str]]:
    """(depth, label, value) rows of ``payload``, nested entries indented by depth; ids of
    parties and rights shown with their names."""
    party_ids: set[int] = set()
    right_ids: set[int] = set()
    _collect(payload, party_ids, right_ids)
    names = dict(Party.objects.filter(pk__in=party_ids).values_list("pk", "name"))
    rights = {
        right.pk: f"{right.get_kind_display()} #{right.pk}"
        for right in Right.objects.filter(pk__in=right_ids)
    }

    def shown(key: str, value) -> str:
        if key in PARTY_KEYS and _ids(value):
            return ", ".join(names.get(item, f"party #{item}") for item in _ids(value))
        if key in RIGHT_KEYS and _ids(value):
            return ", ".join(rights.get(item, f"right #{item}") for item in _ids(value))
        if isinstance(value, list) and all(not isinstance(item, dict | list) for item in value):
            return ", ".join(str(item) for item in value)
        text = "" if value is None else str(value)
        if len(text) > LONGEST_SHOWN:
            return _("%(start)s… (%(length)s characters)") % {
                "start": text[: LONGEST_SHOWN // 2],
                "length": f"{len(text):,}",
            }
        return text

    rows: list[tuple[int, str, str]] = []

    def walk(value, depth: int) -> None:
        for key, item in value.items():
            label = str(LABELS.get(key, key))
            if isinstance(item, dict):
                rows.append((depth, label, ""))
                walk(item, depth + 1)
            elif isinstance(item, list) and any(isinstance(entry, dict) for entry in item):
                rows.append((depth, label, ""))
                for number, entry in enumerate(item, start=1):
                    if isinstance(entry, dict):
                        rows.append((depth + 1, f"{number}.", ""))
                        walk(entry, depth + 2)
                    else:
                        rows.append((depth + 1, f"{number}.", shown(key, entry)))
            else:
                rows.append((depth, label, shown(key, item)))

    if isinstance(payload, dict):
        walk(payload, 0)
    return rows
