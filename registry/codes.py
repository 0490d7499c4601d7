"""Validators for the codes the register is keyed on.

Unit code (不动产单元代码), GB/T 37346-2019: 28 characters in five parts::

    110102 001002 GB 00015 W 00000000
    |      |      || |     | +- unit number: 8 digits; 00000000 when there is no fixture,
    |      |      || |     |    for buildings 4-digit building (幢) + 4-digit unit (户)
    |      |      || |     +--- fixture type: F building/structure, L forest, Q other, W none
    |      |      || +--------- parcel number within the subzone: 5 digits, from 00001
    |      |      |+----------- parcel type (宗地特征码, second letter)
    |      |      +------------ owner type: G state, J collective, Z disputed
    |      +------------------- cadastral zone (3 digits) and subzone (3 digits)
    +-------------------------- administrative division code, GB/T 2260 (6 digits)
"""

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

UNIT_CODE_LENGTH = 28
OWNER_TYPES = {"G": "state", "J": "collective", "Z": "disputed"}
PARCEL_TYPES = {
    "A": "collective land ownership parcel",
    "B": "construction land use right, surface",
    "S": "construction land use right, above ground",
    "X": "construction land use right, underground",
    "C": "homestead use right",
    "D": "land contract right, cultivated land",
    "E": "forest land use right",
    "F": "grassland use right",
    "H": "sea area use right",
    "G": "uninhabited island use right",
    "W": "use right not yet determined",
    "Y": "other land use right",
}
FIXTURE_TYPES = {"F": "building or structure", "L": "forest", "Q": "other", "W": "none"}

_UNIT_CODE = re.compile(
    r"^(?P<division>\d{6})(?P<zone>\d{3})(?P<subzone>\d{3})"
    r"(?P<owner_type>[A-Z])(?P<parcel_type>[A-Z])(?P<parcel_number>\d{5})"
    r"(?P<fixture_type>[A-Z])(?P<unit_number>\d{8})$",
    re.ASCII,  # full-width digits (０-９) are not code digits
)

# Exactly the codes parse_unit_code accepts (its layout and its rules on the parts), for
# checking many at once, as an import does, at a fraction of the cost of parsing each. Codes
# it refuses are parsed for the message that says what is wrong.
WELL_FORMED_UNIT_CODE = re.compile(
    rf"\d{{12}}[{''.join(OWNER_TYPES)}][{''.join(PARCEL_TYPES)}](?!00000)\d{{5}}"
    rf"(?:[{''.join(sorted(set(FIXTURE_TYPES) - {'W'}))}]\d{{8}}|W0{{8}})",
    re.ASCII,
)


@dataclass(frozen=True)
class UnitCode:
    division: str
    zone: str
    subzone: str
    owner_type: str
    parcel_type: str
    parcel_number: str
    fixture_type: str
    unit_number: str

    def __str__(self) -> str:
        return (
            f"{self.division}{self.zone}{self.subzone}{self.owner_type}{self.parcel_type}"
            f"{self.parcel_number}{self.fixture_type}{self.unit_number}"
        )

    @property
    def parcel_code(self) -> str:
        """The first 19 characters: the parcel (宗地代码) the unit sits on."""
        return str(self)[:19]


def parse_unit_code(value: str) -> UnitCode:
    """Parse a 28-character unit code, raising ``ValidationError`` that says which part is wrong."""
    if not isinstance(value, str):
        raise ValidationError(_("Unit code must be text."), code="unit_code_type")
    if len(value) != UNIT_CODE_LENGTH:
        raise ValidationError(
            _("Unit code must have %(expected)d characters, not %(actual)d: %(value)s."),
            code="unit_code_length",
            params={"expected": UNIT_CODE_LENGTH, "actual": len(value), "value": repr(value)},
        )
    match = _UNIT_CODE.match(value)
    if match is None:
        raise ValidationError(
            _(
                "Unit code %(value)s is not in the GB/T 37346 layout "
                "(6-digit division, 3+3-digit zone, 2 letters, 5-digit parcel number, "
                "1 letter, 8-digit unit number)."
            ),
            code="unit_code_layout",
            params={"value": repr(value)},
        )
    code = UnitCode(**match.groupdict())
    problems = []
    if code.owner_type not in OWNER_TYPES:
        problems.append(
            _("owner type %(type)s is not one of %(choices)s")
            % {"type": repr(code.owner_type), "choices": str(sorted(OWNER_TYPES))}
        )
    if code.parcel_type not in PARCEL_TYPES:
        problems.append(
            _("parcel type %(type)s is not one of %(choices)s")
            % {"type": repr(code.parcel_type), "choices": str(sorted(PARCEL_TYPES))}
        )
    if code.fixture_type not in FIXTURE_TYPES:
        problems.append(
            _("fixture type %(type)s is not one of %(choices)s")
            % {"type": repr(code.fixture_type), "choices": str(sorted(FIXTURE_TYPES))}
        )
    if code.parcel_number == "00000":
        problems.append(_("parcel number 00000 is not allowed (numbering starts at 00001)"))
    if code.fixture_type == "W" and code.unit_number != "00000000":
        problems.append(_("a unit without fixture (W) must have unit number 00000000"))
    if problems:
        raise ValidationError(
            _("Unit code %(value)s: %(problems)s."),
            code="unit_code_part",
            params={"value": repr(value), "problems": "; ".join(problems)},
        )
    return code


def validate_unit_code(value: str) -> None:
    parse_unit_code(value)


_LAND_USE_CODE = re.compile(r"^\d{4}$", re.ASCII)


def validate_land_use_code_format(value: str) -> None:
    """A GB/T 21010-2017 second-level code is four digits (e.g. 0801); existence is checked
    by the foreign key to the class table."""
    if not isinstance(value, str) or not _LAND_USE_CODE.match(value):
        raise ValidationError(
            _("Land-use code %(value)s must be a four-digit GB/T 21010-2017 code such as 0801."),
            code="land_use_code_format",
            params={"value": repr(value)},
        )


_DIVISION_CODE = re.compile(r"^\d{6}$", re.ASCII)


def validate_division_code(value: str) -> None:
    if not isinstance(value, str) or not _DIVISION_CODE.match(value):
        raise ValidationError(
            _("Division code %(value)s must be six digits (GB/T 2260)."),
            code="division_code_format",
            params={"value": repr(value)},
        )
