"""An exported file imports again without a mapping and without loss: ``run_import`` rejects
nothing and finds nothing to insert or update."""

import pyogrio
import pytest

from gis_layers.exports import FORMATS, LAYERS, export_layer
from gis_layers.imports.pipeline import run_import
from gis_layers.models import ImportRun, ZoningArea
from registry.models import Building, Parcel, Shelter
from registry.roles import Role
from tests.registry.register import user

pytestmark = pytest.mark.django_db

KINDS = [
    pytest.param("parcels", Parcel, id="parcels"),
    pytest.param("buildings", Building, id="buildings"),
    pytest.param("shelters", Shelter, id="shelters"),
    pytest.param("zoning", ZoningArea, id="zoning"),
]


def export_and_import(tmp_path, *, kind: str, key: str, dry_run: bool):
    fmt = FORMATS[key]
    path = tmp_path / f"{kind}{fmt.suffix}"
    exported = export_layer(kind=kind, path=path, user=user(Role.AUDITOR))
    assert exported.rows > 0
    report = run_import(
        kind_name=kind, path=path, crs=None if fmt.has_crs else "EPSG:4490", dry_run=dry_run
    )
    return exported, report


@pytest.mark.parametrize("key", sorted(FORMATS))
@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_every_exported_row_passes_the_importers_checks(demo, tmp_path, kind, key):
    exported, report = export_and_import(tmp_path, kind=kind, key=key, dry_run=True)
    assert report.rejected == []
    assert report.read == report.accepted == exported.rows


@pytest.mark.parametrize("key", sorted(FORMATS))
@pytest.mark.parametrize("kind, model", KINDS)
def test_an_exported_layer_reimports_without_change(demo, tmp_path, kind, model, key):
    rows_before = model.objects.count()
    exported, report = export_and_import(tmp_path, kind=kind, key=key, dry_run=False)
    assert report.read == exported.rows
    assert report.rejected == []
    assert ImportRun.objects.filter(file_name=exported.path.name).exists()
    assert report.written == {"inserted": 0, "updated": 0}
    assert model.objects.count() == rows_before


@pytest.mark.parametrize("kind, model", [("buildings", Building), ("shelters", Shelter)])
def test_records_keep_their_start_date_in_a_register_that_lacks_them(demo, tmp_path, kind, model):
    """Exported, then imported as new records (as into another register): each begins when
    the original did (2020-01-01 in the demo), not on the day of import."""
    path = tmp_path / f"{kind}.gpkg"
    export_layer(kind=kind, path=path, user=user(Role.AUDITOR))
    frame = pyogrio.read_dataframe(path)
    starts = dict(zip(frame["source_id"], frame["valid_from"].astype(str), strict=True))
    assert set(starts.values()) == {"2020-01-01"}
    frame["source_id"] = "elsewhere " + frame["source_id"]
    elsewhere = tmp_path / f"{kind}-elsewhere.gpkg"
    frame.to_file(elsewhere)
    report = run_import(kind_name=kind, path=elsewhere)
    assert report.written == {"inserted": len(frame), "updated": 0}
    imported = model.objects.filter(source__startswith=f"{elsewhere.name}#elsewhere ")
    assert {
        source.split("#elsewhere ", 1)[1]: str(start)
        for source, start in imported.values_list("source", "valid_from")
    } == starts


def test_a_start_date_after_today_is_refused(demo, tmp_path):
    path = tmp_path / "shelters.gpkg"
    export_layer(kind="shelters", path=path, user=user(Role.AUDITOR))
    frame = pyogrio.read_dataframe(path).head(1)
    frame["source_id"] = "ahead"
    frame["valid_from"] = "2999-01-01"
    frame.to_file(path)
    report = run_import(kind_name="shelters", path=path, dry_run=True)
    assert [(finding.field, finding.reason) for finding in report.rejected] == [
        ("valid_from", "2999-01-01 is after today: the register holds what is in force")
    ]
