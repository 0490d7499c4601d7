"""The six roles of DESIGN.md §7, the model permissions each holds and its clearance."""

from enum import StrEnum

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy

from registry.models.spatial import SecurityLevel


class Role(StrEnum):
    PLANNER = "planner"
    REGISTRAR = "registrar"
    SUPERVISOR = "registration_supervisor"
    CIVIL_DEFENCE = "civil_defence_officer"
    AUDITOR = "auditor"
    ADMINISTRATOR = "administrator"


# Lazily translated: each reader sees them in their own language.
ROLE_DESCRIPTIONS: dict[Role, str | Promise] = {
    Role.PLANNER: gettext_lazy(
        "Browses maps of land use, plan conformity and building intensity, and sees which "
        "agencies hold more office space than the standard allows."
    ),
    Role.REGISTRAR: gettext_lazy(
        "Lodges and examines registration acts (first registration, transfers, mortgages, "
        "seizures, objections, splits and merges) and issues certificates."
    ),
    Role.SUPERVISOR: gettext_lazy(
        "Approves or rejects examined acts; never the examiner of the same case."
    ),
    Role.CIVIL_DEFENCE: gettext_lazy(
        "Keeps the shelter inventory, records inspections and checks who can reach a shelter "
        "with room for them. Cleared to see classified shelters up to 'secret'."
    ),
    Role.AUDITOR: gettext_lazy(
        "Reads everything, including the audit log and the register's journal; changes nothing."
    ),
    Role.ADMINISTRATOR: gettext_lazy("Manages users, roles, reference tables and standards."),
}

_SPATIAL_AND_PARTIES = [
    "parcel", "building", "district", "landuseclass", "party", "agency", "staffestablishment",
]  # fmt: skip
_LAYERS = ["roadsegment", "populationcell", "datasetload", "zoningarea", "importrun"]
_TITLES = ["title", "right", "rightholder", "certificate", "parcellineage"]
_ACTS = ["registrationact", "acttitle", "sourcedocument", "journalentry"]
_AUDIT = ["auditevent", "historyevent"]
_SHELTERS = ["shelter", "shelterinspection"]
_SPACE = [
    "spaceblock",
    "allocatedblock",
    "officespacestandard",
    "officespacecap",
    "agencyspacerecord",
]
# The office-space page and plan: planners and auditors read it, registrars lodge the plan,
# administrators keep the standards and the inventory behind it.
_SPACE_ANALYSIS = ["registry.view_space_analysis"]


def _perms(app: str, models: list[str], actions: tuple[str, ...] = ("view",)) -> list[str]:
    return [f"{app}.{action}_{model}" for model in models for action in actions]


ROLE_PERMISSIONS: dict[Role, list[str]] = {
    Role.PLANNER: _perms("registry", [*_SPATIAL_AND_PARTIES, *_SHELTERS, *_TITLES, *_SPACE])
    + _perms("gis_layers", _LAYERS)
    + _perms("gis_layers", ["coveragerun"], ("view", "add"))
    + _SPACE_ANALYSIS,
    Role.REGISTRAR: _perms(
        "registry", [*_SPATIAL_AND_PARTIES, "shelter", *_TITLES, *_ACTS, *_SPACE]
    )
    + ["registry.lodge_act"]
    + _SPACE_ANALYSIS,
    Role.SUPERVISOR: _perms(
        "registry", [*_SPATIAL_AND_PARTIES, "shelter", *_TITLES, *_ACTS, *_SPACE]
    )
    + ["registry.decide_act"],
    Role.CIVIL_DEFENCE: _perms("registry", ["parcel", "building", "district", "agency", "party"])
    + _perms("registry", ["shelter"], ("view", "add", "change"))
    + _perms("registry", ["shelterinspection"], ("view", "add"))
    + _perms("gis_layers", _LAYERS)
    + _perms("gis_layers", ["coveragerun"], ("view", "add")),
    Role.AUDITOR: _perms(
        "registry",
        [*_SPATIAL_AND_PARTIES, *_SHELTERS, "clearance", *_TITLES, *_ACTS, *_AUDIT, *_SPACE],
    )
    + _perms("gis_layers", [*_LAYERS, "coveragerun"])
    + _SPACE_ANALYSIS,
    Role.ADMINISTRATOR: _perms(
        "registry",
        [
            *_SPATIAL_AND_PARTIES,
            "shelter",
            "clearance",
            *[m for m in _SPACE if m != "allocatedblock"],
        ],
        ("view", "add", "change"),
    )
    + _perms("registry", [*_TITLES, *_ACTS, "allocatedblock", "shelterinspection"])
    + _SPACE_ANALYSIS
    + _perms("gis_layers", _LAYERS, ("view", "add", "change"))
    + _perms("gis_layers", ["coveragerun"])
    + _perms("auth", ["user", "group"], ("view", "add", "change")),
}

ROLE_CLEARANCE: dict[Role, SecurityLevel] = {
    Role.PLANNER: SecurityLevel.PUBLIC,
    Role.REGISTRAR: SecurityLevel.PUBLIC,
    Role.SUPERVISOR: SecurityLevel.PUBLIC,
    Role.CIVIL_DEFENCE: SecurityLevel.SECRET,
    Role.AUDITOR: SecurityLevel.CONFIDENTIAL,
    Role.ADMINISTRATOR: SecurityLevel.CONFIDENTIAL,
}


def roles_of(user) -> list[Role]:
    """The roles a user holds, read from their groups."""
    if not user.is_authenticated:
        return []
    names = {group.name for group in user.groups.all()}
    return [role for role in Role if role.value in names]
