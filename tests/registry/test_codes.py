import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from registry.codes import (
    FIXTURE_TYPES,
    OWNER_TYPES,
    PARCEL_TYPES,
    WELL_FORMED_UNIT_CODE,
    parse_unit_code,
    validate_division_code,
    validate_land_use_code_format,
)

VALID = "110102001002GB00015W00000000"


def test_valid_unit_code_is_split_into_its_parts():
    code = parse_unit_code(VALID)
    assert code.division == "110102"
    assert (code.zone, code.subzone) == ("001", "002")
    assert (code.owner_type, code.parcel_type) == ("G", "B")
    assert code.parcel_number == "00015"
    assert (code.fixture_type, code.unit_number) == ("W", "00000000")
    assert code.parcel_code == "110102001002GB00015"
    assert str(code) == VALID


def test_building_unit_code_with_building_and_unit_numbers_is_valid():
    assert parse_unit_code("110102001002GB00015F00010203").unit_number == "00010203"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (VALID[:-1], "28 characters, not 27"),
        (VALID + "0", "28 characters, not 29"),
        ("11010A001002GB00015W00000000", "GB/T 37346 layout"),
        ("110102001002XB00015W00000000", "owner type 'X'"),
        ("110102001002GI00015W00000000", "parcel type 'I'"),
        ("110102001002GB00015Z00000000", "fixture type 'Z'"),
        ("110102001002GB00000W00000000", "parcel number 00000"),
        ("110102001002GB00015W00000001", "without fixture (W) must have unit number 00000000"),
        ("110102001002gb00015W00000000", "GB/T 37346 layout"),
    ],
)
def test_malformed_unit_code_is_refused_saying_which_part(value, message):
    with pytest.raises(ValidationError) as error:
        parse_unit_code(value)
    assert message in error.value.messages[0]


@given(
    division=st.from_regex(r"[0-9]{6}", fullmatch=True),
    zone=st.from_regex(r"[0-9]{6}", fullmatch=True),
    owner=st.sampled_from(sorted(OWNER_TYPES)),
    parcel_type=st.sampled_from(sorted(PARCEL_TYPES)),
    number=st.integers(1, 99999),
    fixture=st.sampled_from(sorted(set(FIXTURE_TYPES) - {"W"})),
    unit=st.integers(0, 99999999),
)
def test_every_well_formed_unit_code_round_trips(
    division, zone, owner, parcel_type, number, fixture, unit
):
    value = f"{division}{zone}{owner}{parcel_type}{number:05d}{fixture}{unit:08d}"
    assert str(parse_unit_code(value)) == value


@pytest.mark.parametrize("value", ["801", "08010", "08a1", "", "0８01"])
def test_land_use_code_must_be_four_digits(value):
    with pytest.raises(ValidationError, match="four-digit GB/T 21010-2017 code"):
        validate_land_use_code_format(value)


def test_land_use_code_of_four_digits_passes_the_format_check():
    validate_land_use_code_format("0801")


@pytest.mark.parametrize("value", ["11010", "1101021", "11o102"])
def test_division_code_must_be_six_digits(value):
    with pytest.raises(ValidationError, match="six digits"):
        validate_division_code(value)


# Characters drawn from near every rule's edge: digits, full-width digits, zero runs, each
# part's letters and letters of no part.
NEAR_CODE_CHARACTERS = st.sampled_from("0000123456789０GJZXABSWFLQIY \n")


@given(
    text=st.one_of(
        st.text(NEAR_CODE_CHARACTERS, min_size=26, max_size=30),
        st.builds(
            lambda body, owner, parcel, number, fixture, unit: (
                f"{body}{owner}{parcel}{number}{fixture}{unit}"
            ),
            st.text("0123456789", min_size=12, max_size=12),
            st.sampled_from("GJZX"),
            st.sampled_from("ABSWYI"),
            st.sampled_from(["00000", "00001", "10000", "0000０"]),
            st.sampled_from("FLQWI"),
            st.sampled_from(["00000000", "00010203", "0000000１"]),
        ),
    )
)
def test_the_well_formed_pattern_accepts_exactly_the_codes_the_parser_accepts(text):
    try:
        parse_unit_code(text)
        parsed = True
    except ValidationError:
        parsed = False
    assert bool(WELL_FORMED_UNIT_CODE.fullmatch(text)) == parsed
