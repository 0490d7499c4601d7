"""The database router: replica reads only where code opts in, and only when configured."""

import pytest
from django.test import override_settings

from config.routers import REPLICA, ReplicaRouter, replica_reads
from gis_layers.ogc import views as ogc_views
from registry.models import Parcel

WITH_REPLICA = {"default": {}, REPLICA: {}}


# The override only tells the router a replica exists; no connection to it is opened.
@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_reads_go_to_the_replica_only_inside_replica_reads_and_when_configured():
    router = ReplicaRouter()
    with override_settings(DATABASES=WITH_REPLICA):
        assert router.db_for_read(Parcel) is None
        with replica_reads():
            assert router.db_for_read(Parcel) == REPLICA
            assert router.db_for_write(Parcel) == "default"
        assert router.db_for_read(Parcel) is None
    with replica_reads():
        assert router.db_for_read(Parcel) is None  # no replica configured


def test_migrations_run_on_the_primary_only():
    router = ReplicaRouter()
    assert router.allow_migrate("default", "registry")
    assert not router.allow_migrate(REPLICA, "registry")


def test_ogc_reads_opt_in():
    for view in (ogc_views.landing, ogc_views.collections, ogc_views.items, ogc_views.item):
        assert getattr(view, "reads_from_replica", False), view.__name__
