"""An exported file imports again without a mapping and without loss: ``run_import`` rejects
nothing and finds nothing to insert or update."""

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
