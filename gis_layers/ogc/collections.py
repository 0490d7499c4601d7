"""What each collection publishes: its rows for a user, its properties, who may read it.

A collection the user lacks the view permission for is not listed for them and answers 403;
shelters are only ever those at or below the user's clearance (``shelters_visible_to``), so a
classified shelter is absent from items, counts, extents, and its fid answers 404.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import models
from django.db.models import Model, QuerySet
from django.db.models.fields.related import RelatedField

from gis_layers.models import ZoningArea
from registry.models import Building, Parcel, SecurityLevel, Shelter
from registry.selectors import clearance_of, shelters_visible_to

RIGHT_VIEWERS_PERMISSION = "registry.view_right"


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    description: str
    model: type[Model]
    permission: str
    geometry_field: str
    geometry_type: str  # GeoJSON geometry type of every feature
    temporal: bool  # has a legal interval [valid_from, valid_to): ``datetime`` filters it
    fields: dict[str, str]  # property name → field path, for everyone allowed to read
    rows_for: Callable[..., QuerySet] | None = None  # (user=) → visible rows; default: all

    def rows(self, *, user) -> QuerySet:
        """Every row the user may see, at any time."""
        if self.rows_for is not None:
            return self.rows_for(user=user)
        return self.model._default_manager.all()

    def fields_for(self, *, user) -> dict[str, str]:
        """The properties this user is shown (some depend on their clearance)."""
        fields = dict(self.fields)
        if self.id == "shelters" and clearance_of(user=user) > SecurityLevel.PUBLIC:
            # Only users cleared above 'public' see levels other than 'public' at all, so
            # only they are told the level.
            fields["classification"] = "classification"
        return fields

    def shows_holders(self, *, user) -> bool:
        """Parcels carry their holders (names and shares) for users who may read rights."""
        return self.id == "parcels" and user.has_perm(RIGHT_VIEWERS_PERMISSION)

    def may_read(self, user) -> bool:
        return user.has_perm(self.permission)

    def property_schemas(self, *, user) -> dict[str, dict]:
        """JSON Schema of each property this user is shown, from the model's fields (so GIS
        clients type a column right even when the first page holds only nulls in it)."""
        schemas = {
            name: _field_schema(self.model, path)
            for name, path in self.fields_for(user=user).items()
        }
        if self.shows_holders(user=user):
            schemas["holders"] = HOLDERS_SCHEMA
        return schemas


HOLDERS_SCHEMA = {
    "type": "array",
    "description": "Holders of ownership and land-use rights on the date asked for.",
    "items": {
        "type": "object",
        "properties": {
            "right": {"type": "integer"},
            "kind": {"type": "string"},
            "party": {"type": "string"},
            "party_id": {"type": "integer"},
            "share": {"type": "string", "description": "parts/denominator"},
        },
    },
}


def _field_schema(model: type[Model], path: str) -> dict:
    """The JSON Schema type of a field path (``district__code``), following relations."""
    *relations, name = path.split("__")
    for relation in relations:
        related = model._meta.get_field(relation).related_model
        # Paths follow foreign keys, whose targets are model classes once the apps are loaded.
        assert isinstance(related, type)
        model = related
    field = model._meta.get_field(name)
    # Paths name a model's own fields, never a reverse relation or a generic foreign key.
    assert isinstance(field, models.Field)
    if isinstance(field, RelatedField):  # a foreign key's id reads as the target's key
        field = field.target_field
    if isinstance(field, models.GeneratedField):
        # Django requires a generated field's output_field; the stubs allow None.
        assert field.output_field is not None
        field = field.output_field
    schema: dict = {"title": str(field.verbose_name)}
    if isinstance(field, models.DateTimeField):
        schema.update(type="string", format="date-time")
    elif isinstance(field, models.DateField):
        schema.update(type="string", format="date")
    elif isinstance(field, models.BooleanField):
        schema["type"] = "boolean"
    elif isinstance(field, models.IntegerField):
        schema["type"] = "integer"
    elif isinstance(field, models.FloatField | models.DecimalField):
        schema["type"] = "number"
    else:
        schema["type"] = "string"
    if field.choices:
        schema["enum"] = [value for value, _ in field.choices]
    if field.help_text:
        schema["description"] = str(field.help_text)
    return schema


_INTERVAL = {"valid_from": "valid_from", "valid_to": "valid_to"}
# Underground, and a stratified unit's layer (elevations in metres, 1985 National Height Datum).
_STRATUM = {name: name for name in ("is_underground", "elevation_bottom_m", "elevation_top_m")}

COLLECTIONS: dict[str, Collection] = {
    collection.id: collection
    for collection in (
        Collection(
            id="parcels",
            title="Parcels 宗地",
            description=(
                "Parcels of land with their unit code (不动产单元代码), land-use class "
                "(GB/T 21010-2017), geodesic area in m² and district. Without “datetime” the "
                "parcels in force today; “datetime” gives the register as of a date, or every "
                "parcel in force at some time in an interval (“../..” for all). Users who may "
                "read rights also get the holders of ownership and land-use rights with their "
                "shares, on the same date."
            ),
            model=Parcel,
            permission="registry.view_parcel",
            geometry_field="geom",
            geometry_type="MultiPolygon",
            temporal=True,
            fields={
                "unit_code": "unit_code",
                "name": "name",
                "address": "address",
                "land_use": "land_use_id",
                "land_use_name_zh": "land_use__name_zh",
                "land_use_name_en": "land_use__name_en",
                "area_m2": "area_m2",
                "district": "district__code",
                "district_name": "district__name",
                **_INTERVAL,
            },
        ),
        Collection(
            id="buildings",
            title="Buildings 房屋",
            description=(
                "Building footprints with use, floors above and below ground, gross floor "
                "area in m², height in metres, the unit code of the parcel they stand on, "
                "whether underground and, for a stratified unit (分层), the bottom and top "
                "elevations of its layer in metres (1985 National Height Datum). “datetime” as "
                "for parcels."
            ),
            model=Building,
            permission="registry.view_building",
            geometry_field="footprint",
            geometry_type="MultiPolygon",
            temporal=True,
            fields={
                "name": "name",
                "address": "address",
                "use": "use",
                "floors_above": "floors_above",
                "floors_below": "floors_below",
                "gross_floor_area_m2": "gross_floor_area_m2",
                "height_m": "height_m",
                "year_built": "year_built",
                "condition": "condition",
                "parcel_unit_code": "parcel__unit_code",
                **_STRATUM,
                **_INTERVAL,
            },
        ),
        Collection(
            id="shelters",
            title="Civil-defence shelters 人防工程",
            description=(
                "Civil-defence works at or below your security clearance: type, protection "
                "class, capacity in persons, usable area in m², condition, peacetime use, "
                "whether underground and, for a stratified unit, its layer's elevations. "
                "“datetime” as for parcels."
            ),
            model=Shelter,
            permission="registry.view_shelter",
            geometry_field="location",
            geometry_type="Point",
            temporal=True,
            fields={
                "name": "name",
                "shelter_type": "shelter_type",
                "protection_class": "protection_class",
                "capacity_persons": "capacity_persons",
                "usable_area_m2": "usable_area_m2",
                "condition": "condition",
                "peacetime_use": "peacetime_use",
                **_STRATUM,
                **_INTERVAL,
            },
            rows_for=shelters_visible_to,
        ),
        Collection(
            id="zoning",
            title="Zoning 规划用地",
            description=(
                "Polygons of land-use plans: planned use (用地用海 class code), plan name and "
                "date, permitted floor-area ratio. Plans carry no legal interval, so "
                "“datetime” is accepted but does not filter this collection."
            ),
            model=ZoningArea,
            permission="gis_layers.view_zoningarea",
            geometry_field="geom",
            geometry_type="MultiPolygon",
            temporal=False,
            fields={
                "planned_use": "planned_use",
                "plan_name": "plan_name",
                "plan_date": "plan_date",
                "max_far": "max_far",
                "area_m2": "area_m2",
            },
        ),
    )
}


def readable_collections(user) -> list[Collection]:
    """The collections this user may read, in the order they are listed."""
    return [collection for collection in COLLECTIONS.values() if collection.may_read(user)]
