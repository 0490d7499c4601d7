"""Reading OpenStreetMap features into LandLedger's classes. No Django imports."""

import re

import pandas as pd

_OTHER_TAG = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')


def parse_other_tags(text) -> dict[str, str]:
    """GDAL's OSM driver packs the tags without a column of their own as ``"k"=>"v",...``."""
    if not isinstance(text, str) or not text:
        return {}
    return {
        key.replace('\\"', '"'): value.replace('\\"', '"')
        for key, value in _OTHER_TAG.findall(text)
    }


# OSM tag -> GB/T 21010-2017 second-level class. Checked in the order given: the first match wins.
LAND_USE_BY_TAG: list[tuple[str, str, str]] = [
    ("amenity", "townhall", "0801"),
    ("amenity", "courthouse", "0801"),
    ("landuse", "military", "0901"),
    ("amenity", "embassy", "0902"),
    ("landuse", "religious", "0904"),
    ("amenity", "place_of_worship", "0904"),
    ("landuse", "cemetery", "0905"),
    ("amenity", "university", "0803"),
    ("amenity", "college", "0803"),
    ("amenity", "school", "0803"),
    ("landuse", "education", "0803"),
    ("amenity", "hospital", "0805"),
    ("amenity", "clinic", "0805"),
    ("amenity", "library", "0807"),
    ("amenity", "theatre", "0807"),
    ("amenity", "arts_centre", "0807"),
    ("leisure", "pitch", "0808"),
    ("leisure", "sports_centre", "0808"),
    ("leisure", "stadium", "0808"),
    ("leisure", "park", "0810"),
    ("leisure", "garden", "0810"),
    ("leisure", "playground", "0810"),
    ("landuse", "grass", "0810"),
    ("landuse", "village_green", "0810"),
    ("landuse", "recreation_ground", "0810"),
    ("landuse", "residential", "0701"),
    ("landuse", "retail", "0501"),
    ("amenity", "marketplace", "0502"),
    ("landuse", "commercial", "0505"),
    ("landuse", "civic", "0801"),
    ("landuse", "civil", "0801"),
    ("landuse", "industrial", "0601"),
    ("landuse", "railway", "1001"),
    ("amenity", "parking", "1005"),
    ("landuse", "basin", "1104"),
    ("landuse", "pond", "1104"),
    ("natural", "water", "1101"),
    ("natural", "wetland", "1108"),
    ("natural", "scrub", "0305"),
    ("natural", "heath", "0404"),
    ("natural", "bare_rock", "1207"),
    ("landuse", "construction", "1201"),
]


def land_use_code(tags: dict[str, str]) -> str | None:
    """The GB/T 21010 class an OSM area's tags describe, or None when they describe none."""
    for key, value, code in LAND_USE_BY_TAG:
        if tags.get(key) == value:
            return code
    return None


PUBLIC_OFFICE_TAGS = {"government", "central_bank", "diplomatic"}


def is_government_office(tags: dict[str, str]) -> bool:
    """A building a public body can sit in: a ministry, government office, city hall, court or
    central bank, or an unnamed office building (a named one is a company)."""
    office = tags.get("office")
    return (
        office in PUBLIC_OFFICE_TAGS
        or "government" in tags
        or tags.get("amenity") in {"townhall", "courthouse"}
        or tags.get("building") == "government"
        or (tags.get("building") == "office" and office is None and "name" not in tags)
    )


def is_municipal(tags: dict[str, str]) -> bool:
    return tags.get("amenity") == "townhall"


_USE_BY_BUILDING_TAG = {
    "apartments": "residential",
    "residential": "residential",
    "house": "residential",
    "dormitory": "residential",
    "office": "office",
    "government": "office",
    "commercial": "commercial",
    "retail": "commercial",
    "hotel": "commercial",
    "kiosk": "commercial",
    "industrial": "industrial",
    "warehouse": "industrial",
    "public": "public",
    "civic": "public",
    "church": "public",
    "cathedral": "public",
    "chapel": "public",
    "university": "public",
    "school": "public",
    "train_station": "public",
}


def building_use(tags: dict[str, str]) -> str:
    """LandLedger's building use for an OSM building."""
    if is_government_office(tags):
        return "office"
    return _USE_BY_BUILDING_TAG.get(tags.get("building", ""), "other")


def number_or_none(text) -> float | None:
    """OSM numbers come as text, sometimes with units or ranges ('12 m', '5;6')."""
    if not isinstance(text, str):
        return None
    match = re.match(r"\s*(\d+(?:\.\d+)?)", text)
    return float(match.group(1)) if match else None


def year_or_none(text) -> int | None:
    if not isinstance(text, str):
        return None
    match = re.match(r"\s*(\d{4})", text)
    return int(match.group(1)) if match else None


def tags_frame(features: pd.DataFrame, columns: list[str]) -> list[dict[str, str]]:
    """One tag dictionary per feature: the driver's own columns plus ``other_tags``."""
    records = []
    for _, row in features.iterrows():
        tags = parse_other_tags(row.get("other_tags"))
        for column in columns:
            value = row.get(column)
            if isinstance(value, str) and value:
                tags[column] = value
        records.append(tags)
    return records
