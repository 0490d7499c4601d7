"""Underground and stratified (分层) buildings and shelters: the database keeps a layer whole
and upright, imports read both from files in English or Chinese, exports write them back in
every format, and the pages show them."""

import pytest
from django.db import IntegrityError, transaction

from gis_layers.exports import FORMATS, export_layer
from gis_layers.imports.pipeline import run_import
from registry.models import Building, Shelter
from registry.roles import Role
from tests.registry.register import user
from tests.registry.test_views import logged_in

pytestmark = pytest.mark.django_db


def test_the_database_keeps_a_layer_whole_and_upright(demo):
    shelter = Shelter.objects.first()
    for bottom, top in [(-12.0, None), (None, -3.0), (-3.0, -12.0), (-3.0, -3.0)]:
        with pytest.raises(IntegrityError, match="shelter_stratum_ordered"), transaction.atomic():
            Shelter.objects.filter(pk=shelter.pk).update(
                elevation_bottom_m=bottom, elevation_top_m=top
            )
    Shelter.objects.filter(pk=shelter.pk).update(elevation_bottom_m=-12.0, elevation_top_m=-3.0)
    shelter.refresh_from_db()
    assert shelter.is_stratified and (shelter.elevation_bottom_m, shelter.elevation_top_m) == (
        -12.0,
        -3.0,
    )


def _stratum(unit) -> tuple:
    return unit.is_underground, unit.elevation_bottom_m, unit.elevation_top_m


@pytest.mark.parametrize("key", sorted(FORMATS))
def test_underground_and_layers_survive_export_and_reimport(demo, tmp_path, key):
    """Exported, then the register's own values changed, then the file imported again: each
    unit gets back what the file held, in every format (CSV and Shapefile included, which
    have no boolean of their own)."""
    shelter, other_shelter = Shelter.objects.order_by("id")[:2]
    building = Building.objects.order_by("id").first()
    expected = {
        shelter.pk: (False, None, None),
        other_shelter.pk: (True, -15.5, -3.25),
        building.pk: (True, -12.0, -0.5),
    }
    Shelter.objects.filter(pk=shelter.pk).update(is_underground=False)
    Shelter.objects.filter(pk=other_shelter.pk).update(
        elevation_bottom_m=-15.5, elevation_top_m=-3.25
    )
    Building.objects.filter(pk=building.pk).update(
        is_underground=True, elevation_bottom_m=-12.0, elevation_top_m=-0.5
    )
    fmt = FORMATS[key]
    paths = {kind: tmp_path / f"{kind}{fmt.suffix}" for kind in ("shelters", "buildings")}
    for kind, path in paths.items():
        export_layer(kind=kind, path=path, user=user(Role.AUDITOR))
    Shelter.objects.filter(pk__in=[shelter.pk, other_shelter.pk]).update(
        is_underground=True, elevation_bottom_m=None, elevation_top_m=None
    )
    Building.objects.filter(pk=building.pk).update(
        is_underground=False, elevation_bottom_m=None, elevation_top_m=None
    )
    crs = None if fmt.has_crs else "EPSG:4490"
    for kind, path in paths.items():
        report = run_import(kind_name=kind, path=path, crs=crs)
        assert report.rejected == []
    assert report.written["updated"] == 1  # the building alone: the others are as exported
    found = {
        **{s.pk: _stratum(s) for s in Shelter.objects.filter(pk__in=expected)},
        **{b.pk: _stratum(b) for b in Building.objects.filter(pk=building.pk)},
    }
    assert found == expected


def test_a_files_layers_must_be_whole_and_upright(tmp_path):
    """Chinese column names; rows whose layer lacks an elevation, stands on its head, or
    whose underground flag is neither yes nor no are refused, each naming its field."""
    header = "工程名称,工程类型,防护等级,掩蔽人数,使用面积,是否地下,起始高程,终止高程,经度,纬度\n"
    rows = [
        "地上一号,人员掩蔽,核6级,100,120,否,,,100.2,30.2",
        "分层二号,人员掩蔽,核6级,100,120,是,-18.5米,-6,100.21,30.2",
        "缺顶三号,人员掩蔽,核6级,100,120,是,-18,,100.22,30.2",
        "倒置四号,人员掩蔽,核6级,100,120,是,-6,-18,100.23,30.2",
        "不明五号,人员掩蔽,核6级,100,120,也许,,,100.24,30.2",
    ]
    path = tmp_path / "shelters.csv"
    path.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    report = run_import(kind_name="shelters", path=path, crs="EPSG:4490", dry_run=True)
    assert [(f.row, f.field, f.reason) for f in report.rejected] == [
        (3, "elevation_top_m", "a stratified unit gives both elevations of its layer, bottom and top"),
        (4, "elevation_top_m", "-18 m is not above the bottom of the layer, -6 m"),
        (5, "is_underground", "'也许' is not one of ['False', 'True']"),
    ]  # fmt: skip
    assert report.accepted == 2 and not Shelter.objects.filter(name="地上一号").exists()
    path.write_text(header + "\n".join(rows[:2]) + "\n", encoding="utf-8")
    run_import(kind_name="shelters", path=path, crs="EPSG:4490")
    assert _stratum(Shelter.objects.get(name="地上一号")) == (False, None, None)
    assert _stratum(Shelter.objects.get(name="分层二号")) == (True, -18.5, -6.0)


def test_pages_say_where_a_unit_lies(demo, client):
    shelter = Shelter.objects.filter(classification=0).first()
    Shelter.objects.filter(pk=shelter.pk).update(elevation_bottom_m=-15.5, elevation_top_m=-3.25)
    building = Building.objects.first()
    logged_in(client, Role.CIVIL_DEFENCE)
    page = client.get(f"/shelters/{shelter.pk}/").content.decode()
    assert "underground; stratified unit: -15.5 to -3.25 m (1985 height datum)" in page
    popup = client.get(f"/map/popup/buildings/{building.pk}/").content.decode()
    assert "above ground" in popup and "stratified" not in popup


def test_a_file_without_elevation_columns_leaves_a_units_layer_as_it_was(tmp_path):
    header = "工程名称,工程类型,防护等级,掩蔽人数,使用面积,source_id,经度,纬度"
    row = "分层六号,人员掩蔽,核6级,100,120,s6,100.25,30.2"
    path = tmp_path / "shelters.csv"

    def imported(text: str) -> tuple:
        path.write_text(text, encoding="utf-8")
        assert run_import(kind_name="shelters", path=path, crs="EPSG:4490").rejected == []
        return _stratum(Shelter.objects.get(name="分层六号"))

    assert imported(f"{header},起始高程,终止高程\n{row},-18,-6\n") == (True, -18.0, -6.0)
    # Another survey's file, with other columns and none of the layer: the layer stays.
    assert imported(f"{header}\n{row.replace(',100,120,', ',150,120,')}\n") == (True, -18.0, -6.0)
    assert Shelter.objects.get(name="分层六号").capacity_persons == 150
    # The columns there, empty: the unit is no longer stratified.
    assert imported(f"{header},起始高程,终止高程\n{row},,\n") == (True, None, None)
