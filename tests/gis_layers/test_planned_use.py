import pytest

from gis_layers.models import LandUseCrosswalk, PlannedUseClass
from registry.models import LandUseClass

pytestmark = pytest.mark.django_db


def test_every_current_use_class_has_a_planned_use_class():
    current = set(LandUseClass.objects.filter(parent__isnull=False).values_list("code", flat=True))
    assert set(LandUseCrosswalk.objects.values_list("current_id", flat=True)) == current
    assert LandUseCrosswalk.objects.get(current_id="0801").planned_id == "0801"
    assert LandUseCrosswalk.objects.get(current_id="0505").planned.name_zh == "商务金融用地"


def test_planned_use_classes_form_a_two_level_tree():
    for planned in PlannedUseClass.objects.filter(parent__isnull=False):
        assert planned.code.startswith(planned.parent_id) and len(planned.code) == 4
    assert PlannedUseClass.objects.get(code="14").name_en == "Green space and open space land"
