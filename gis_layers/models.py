"""Layers that are not title: the street network, population, and a record of dataset loads."""

from django.contrib.gis.db import models
from django.db.models import Q
from django.db.models.functions import Now

from registry.models.geometry import GeodesicArea, GeodesicLength, geometry_guards

STORAGE_SRID = 4490


class RoadSegment(models.Model):
    """A segment of the street and footway network (for walking distance)."""

    district = models.ForeignKey(
        "registry.District",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        help_text="The district holding it, if any (imported networks may reach beyond).",
    )
    osm_id = models.BigIntegerField(null=True, blank=True)
    name = models.CharField(max_length=200, blank=True)
    highway = models.CharField(max_length=40, help_text="OSM highway class, e.g. footway.")
    walkable = models.BooleanField(default=True)
    geom = models.LineStringField(srid=STORAGE_SRID)
    length_m = models.GeneratedField(
        expression=GeodesicLength("geom"), output_field=models.FloatField(), db_persist=True
    )
    source = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = geometry_guards("roadsegment", "geom")

    def __str__(self) -> str:
        return self.name or f"{self.highway} {self.pk}"


class PopulationCell(models.Model):
    """A cell of a population grid: residents (night) in persons."""

    district = models.ForeignKey(
        "registry.District",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        help_text="The district holding it, if any (imported grids may reach beyond).",
    )
    geom = models.PolygonField(srid=STORAGE_SRID)
    area_m2 = models.GeneratedField(
        expression=GeodesicArea("geom"), output_field=models.FloatField(), db_persist=True
    )
    residents = models.FloatField(help_text="Night-time population, persons.")
    is_synthetic = models.BooleanField(default=False)
    source = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            *geometry_guards("populationcell", "geom"),
            models.CheckConstraint(
                condition=Q(residents__gte=0),
                name="populationcell_residents_not_negative",
                violation_error_message="residents must not be negative.",
            ),
        ]

    def __str__(self) -> str:
        return f"cell {self.pk}: {self.residents:.0f} residents"


class DatasetLoad(models.Model):
    """One completed load of a dataset: what was read, written and repaired.

    A demo load is recorded only when all of it committed, so its presence means the
    dataset is fully in place and a second ``load_demo`` can skip it.
    """

    dataset = models.CharField(max_length=100, unique=True)
    version = models.CharField(max_length=40)
    loaded_at = models.DateTimeField(db_default=Now())
    counts = models.JSONField(default=dict)
    repaired = models.JSONField(default=dict, help_text="Invalid geometries repaired, by layer.")
    attribution = models.CharField(max_length=300)

    class Meta:
        ordering = ["dataset"]

    def __str__(self) -> str:
        return f"{self.dataset} {self.version}"


class ImportRun(models.Model):
    """One run of ``import_layer`` that wrote to the database: what, from which file, by whom."""

    kind = models.CharField(max_length=20)
    file_name = models.CharField(max_length=300)
    file_sha256 = models.CharField(max_length=64)
    source_crs = models.CharField(max_length=40)
    user = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    finished_at = models.DateTimeField(db_default=Now())
    counts = models.JSONField(
        default=dict, help_text="read, inserted, updated, unchanged, repaired"
    )

    class Meta:
        ordering = ["-finished_at"]

    def __str__(self) -> str:
        return f"{self.kind} from {self.file_name} at {self.finished_at:%Y-%m-%d %H:%M}"


class ZoningArea(models.Model):
    """A polygon of a land-use plan: its planned use (2023 用地用海 class code), the plan
    it belongs to, and the greatest floor-area ratio the plan permits there, if it says."""

    planned_use = models.CharField(
        max_length=8, help_text="用地用海分类 code, e.g. 0801 or 070101."
    )
    plan_name = models.CharField(max_length=200, blank=True)
    plan_date = models.DateField(null=True, blank=True)
    max_far = models.FloatField(null=True, blank=True, help_text="Permitted floor-area ratio.")
    geom = models.MultiPolygonField(srid=STORAGE_SRID)
    area_m2 = models.GeneratedField(
        expression=GeodesicArea("geom"), output_field=models.FloatField(), db_persist=True
    )
    source = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            *geometry_guards("zoningarea", "geom"),
            models.CheckConstraint(
                condition=Q(max_far__isnull=True) | Q(max_far__gt=0),
                name="zoningarea_max_far_positive",
                violation_error_message="max_far must be positive.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.planned_use} {self.plan_name}".strip()


class TileChange(models.Model):
    """Where a map layer changed: the bounding box of a row before and after, noted by a
    database trigger in the changing transaction (so only once it commits, and whatever
    path the change took: registration act, import, admin, SQL)."""

    layer = models.CharField(max_length=20)
    bbox = models.PolygonField(srid=STORAGE_SRID)
    transaction_id = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["layer", "transaction_id"])]

    def __str__(self) -> str:
        return f"{self.layer} changed in transaction {self.transaction_id}"


class CachedTile(models.Model):
    """A rendered vector tile. It stays good until a TileChange of its layer that its
    rendering did not see (by the transaction snapshot it was rendered after) touches it."""

    key = models.CharField(max_length=200, primary_key=True)
    layer = models.CharField(max_length=20)
    tile = models.BinaryField()
    etag = models.CharField(max_length=64)
    snapshot = models.CharField(
        max_length=2000, help_text="pg_current_snapshot() taken before rendering, as text."
    )

    def __str__(self) -> str:
        return self.key


class ReportInputChange(models.Model):
    """A table a cached report reads was written to by a transaction: one note per table and
    transaction, made by a statement trigger in that transaction, so it counts only once the
    transaction commits (migration gis_layers 0016 lists the tables)."""

    relation = models.CharField(max_length=63)
    transaction_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["relation", "transaction_id"], name="report_input_change_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.relation} changed in transaction {self.transaction_id}"


class CachedReport(models.Model):
    """A computed report (see :mod:`gis_layers.report_cache`), good until a ReportInputChange
    of one of its input tables that its computation did not see."""

    key = models.CharField(max_length=200, primary_key=True)
    payload = models.TextField(help_text="The report as JSON.")
    snapshot = models.TextField(help_text="pg_current_snapshot() taken before computing.")
    # Transaction ids belong to one PostgreSQL cluster: a row restored into another cluster
    # would compare its snapshot with foreign ids, so it counts only in its own.
    system_identifier = models.BigIntegerField()
    computed_at = models.DateTimeField()
    seconds = models.FloatField(help_text="How long the computation took.")

    def __str__(self) -> str:
        return self.key


class ReportComputation(models.Model):
    """A report being computed, with the snapshot it is computed after: until it is kept, the
    notes that snapshot did not see must stay (see :mod:`gis_layers.report_cache`)."""

    key = models.CharField(max_length=200)
    snapshot = models.TextField(help_text="pg_current_snapshot() taken before computing.")
    started_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.key}, since {self.started_at:%Y-%m-%d %H:%M:%S}"


class PlannedUseClass(models.Model):
    """A class of the 2023 land and sea use classification (国土空间调查、规划、用途管制用地用海
    分类指南): first level (2 digits) or second (4 digits)."""

    code = models.CharField(primary_key=True, max_length=4)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    name_zh = models.CharField(max_length=40)
    name_en = models.CharField(max_length=80)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name_zh} / {self.name_en}"


class LandUseCrosswalk(models.Model):
    """Which 2023 planned-use class a GB/T 21010-2017 current-use class corresponds to: a
    parcel conforms to the plan where its current class maps to the planned one (or to a
    class under it)."""

    current = models.OneToOneField(
        "registry.LandUseClass",
        primary_key=True,
        on_delete=models.PROTECT,
        related_name="crosswalk",
    )
    planned = models.ForeignKey(PlannedUseClass, on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return f"{self.current_id} → {self.planned_id}"


class CoverageRun(models.Model):
    """One shelter-coverage analysis: its parameters, progress and results.

    A run sees only shelters up to its ``clearance`` and is shown only to users cleared at
    least that far, so its totals never reveal a classified shelter. Results are kept as they
    were computed (cells and shelters copied in), whatever changes later.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        RUNNING = "running", "running"
        DONE = "done", "done"
        FAILED = "failed", "failed"

    requested_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(db_default=Now())
    finished_at = models.DateTimeField(null=True, blank=True)
    clearance = models.PositiveSmallIntegerField(
        help_text="Highest shelter classification the run includes."
    )
    parameters = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    progress = models.FloatField(default=0.0, help_text="Share done, 0–1.")
    message = models.TextField(blank=True, help_text="The current step, or why it failed.")
    summary = models.JSONField(default=dict, help_text="Totals, what-if, siting, exclusions.")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"coverage run {self.pk} ({self.status})"


class CoverageCell(models.Model):
    """A population cell's result in one coverage run."""

    run = models.ForeignKey(CoverageRun, on_delete=models.CASCADE, related_name="cells")
    geom = models.PolygonField(srid=STORAGE_SRID)
    district = models.ForeignKey(
        "registry.District", null=True, blank=True, on_delete=models.SET_NULL
    )
    night = models.FloatField(help_text="Residents, persons.")
    day = models.FloatField(help_text="Residents plus agency staff at their offices, persons.")
    nearest_m = models.FloatField(
        null=True, help_text="Distance to the nearest usable shelter; null if none in range."
    )
    covered = models.BooleanField()
    access_night = models.FloatField(help_text="Places per person within reach (E2SFCA).")
    access_day = models.FloatField(help_text="Places per person within reach (E2SFCA).")

    class Meta:
        ordering = ["run", "id"]
        indexes = [models.Index(fields=["run"])]


class CoverageShelter(models.Model):
    """A shelter's catchment and load in one coverage run."""

    run = models.ForeignKey(CoverageRun, on_delete=models.CASCADE, related_name="shelters")
    shelter = models.ForeignKey("registry.Shelter", on_delete=models.CASCADE, related_name="+")
    location = models.PointField(srid=STORAGE_SRID)
    catchment_area = models.MultiPolygonField(
        srid=STORAGE_SRID, null=True, help_text="The cells it serves."
    )
    places = models.FloatField()
    radius_m = models.FloatField()
    catchment_night = models.FloatField()
    catchment_day = models.FloatField()

    class Meta:
        ordering = ["run", "id"]
        indexes = [models.Index(fields=["run"])]

    @property
    def load_night(self) -> float:
        return self.catchment_night / self.places

    @property
    def load_day(self) -> float:
        return self.catchment_day / self.places
