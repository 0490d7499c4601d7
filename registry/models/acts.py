"""Registration acts (不动产登记暂行条例 art. 3, plus parcel split and merge), their source
documents, the journal they are sealed in, and the certificates they issue."""

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import F, Q

if TYPE_CHECKING:
    from registry.models.rights import Title


class ActType(models.TextChoices):
    FIRST = "first", "first registration 首次登记"
    CHANGE = "change", "change 变更登记"
    TRANSFER = "transfer", "transfer 转移登记"
    CANCELLATION = "cancellation", "cancellation 注销登记"
    CORRECTION = "correction", "correction 更正登记"
    OBJECTION = "objection", "objection 异议登记"
    ADVANCE_NOTICE = "advance_notice", "advance notice 预告登记"
    SEIZURE = "seizure", "seizure 查封登记"
    SPLIT = "split", "parcel split 分宗"
    MERGE = "merge", "parcel merge 合宗"
    ALLOCATION = "allocation", "use allocation 使用调配"


class ActStatus(models.TextChoices):
    LODGED = "lodged", "lodged 受理"
    EXAMINED = "examined", "examined 审核"
    REGISTERED = "registered", "approved and registered 登簿"
    REJECTED = "rejected", "rejected 不予登记"


class RegistrationAct(models.Model):
    """One application for registration, from lodging to registration or rejection.

    ``payload`` holds what the applicant asks for (new holders, amounts, the child parcels of
    a split...), checked when lodged and again, against the register as it then is, when
    approved. The approver is never the examiner: a CHECK constraint refuses it.
    """

    number = models.CharField(max_length=32, unique=True, help_text="Application number 受理编号.")
    act_type = models.CharField(max_length=20, choices=ActType.choices)
    status = models.CharField(max_length=12, choices=ActStatus.choices, default=ActStatus.LODGED)
    office = models.ForeignKey("registry.District", on_delete=models.PROTECT)
    payload = models.JSONField(default=dict)
    effective_date = models.DateField(help_text="Legal date the act takes effect.")
    lodged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="acts_lodged"
    )
    lodged_at = models.DateTimeField(db_default=models.functions.Now())
    examined_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="acts_examined",
    )
    examined_at = models.DateTimeField(null=True, blank=True)
    examination_note = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="acts_decided",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(blank=True)
    titles: "models.ManyToManyField[Title, ActTitle]" = models.ManyToManyField(
        "registry.Title", through="ActTitle", related_name="acts"
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True)
                | Q(examined_by__isnull=True)
                | ~Q(decided_by=F("examined_by")),
                name="act_approver_is_not_examiner",
                violation_error_message="The examiner of an act cannot also decide it.",
            ),
            models.CheckConstraint(
                condition=~Q(status=ActStatus.REGISTERED)
                | Q(examined_by__isnull=False, decided_by__isnull=False),
                name="act_registered_was_examined_and_approved",
            ),
            models.CheckConstraint(
                condition=~Q(status=ActStatus.REJECTED) | ~Q(rejection_reason=""),
                name="act_rejection_has_reason",
            ),
        ]
        permissions = [
            ("lodge_act", "Can lodge and examine registration acts"),
            ("decide_act", "Can approve or reject registration acts"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.get_act_type_display()}"


class ActTitle(models.Model):
    """A title an act concerns, and the version of it the application was based on."""

    act = models.ForeignKey(RegistrationAct, on_delete=models.PROTECT, related_name="act_titles")
    title = models.ForeignKey("registry.Title", on_delete=models.PROTECT, related_name="act_titles")
    based_on_version = models.PositiveIntegerField()

    class Meta:
        ordering = ["act", "title"]
        constraints = [
            models.UniqueConstraint(fields=["act", "title"], name="acttitle_once_per_act"),
        ]

    def __str__(self) -> str:
        return f"{self.act_id} on title {self.title_id} v{self.based_on_version}"


class SourceDocument(models.Model):
    """A document behind an act (deed, survey plan, court order), kept with its SHA-256."""

    act = models.ForeignKey(RegistrationAct, on_delete=models.PROTECT, related_name="sources")
    kind = models.CharField(max_length=40, help_text="deed, survey plan, court order, ...")
    file_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100, blank=True)
    content = models.BinaryField()
    size_bytes = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_at = models.DateTimeField(db_default=models.functions.Now())

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(sha256__regex=r"^[0-9a-f]{64}$"), name="source_sha256_hex"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.file_name}"


class ParcelLineage(models.Model):
    """A parent parcel retired by a split or merge, and one child it became part of."""

    parent = models.ForeignKey("registry.Parcel", on_delete=models.PROTECT, related_name="+")
    child = models.ForeignKey("registry.Parcel", on_delete=models.PROTECT, related_name="+")
    act = models.ForeignKey(RegistrationAct, on_delete=models.PROTECT, related_name="lineage")

    class Meta:
        ordering = ["act", "parent", "child"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "child"], name="lineage_once"),
            models.CheckConstraint(condition=~Q(parent=F("child")), name="lineage_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.parent_id} → {self.child_id}"


class JournalEntry(models.Model):
    """One registered act, sealed: ``entry_hash`` = SHA-256 of the previous entry's hash and
    the canonical serialisation of the act. The database refuses UPDATE, DELETE and TRUNCATE.
    """

    position = models.BigIntegerField(primary_key=True)
    act = models.OneToOneField(RegistrationAct, on_delete=models.PROTECT, related_name="journal")
    recorded_at = models.DateTimeField()
    payload = models.TextField(help_text="Canonical JSON of the act as registered.")
    previous_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["position"]
        verbose_name_plural = "journal entries"
        constraints = [
            models.CheckConstraint(condition=Q(position__gte=1), name="journal_position_positive"),
        ]

    def __str__(self) -> str:
        return f"#{self.position} {self.entry_hash[:12]}"


class CertificateKind(models.TextChoices):
    TITLE = "title", "title certificate 不动产权证书"
    PROOF = "proof", "proof of registration 不动产登记证明"


CERTIFICATE_WORD: dict[str, str] = {
    CertificateKind.TITLE: "不动产权",
    CertificateKind.PROOF: "不动产证明",
}


class CertificateSequence(models.Model):
    """The last serial issued per office, year and kind; locked while issuing, so numbers
    come without gaps or repeats."""

    office = models.ForeignKey("registry.District", on_delete=models.PROTECT)
    year = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=8, choices=CertificateKind.choices)
    last_serial = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["office", "year", "kind"], name="certseq_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.office_id} {self.year} {self.kind}: {self.last_serial}"


class Certificate(models.Model):
    """A certificate or proof of registration, tied to its journal entry."""

    number = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=8, choices=CertificateKind.choices)
    office = models.ForeignKey("registry.District", on_delete=models.PROTECT)
    year = models.PositiveSmallIntegerField()
    serial = models.PositiveIntegerField()
    act = models.ForeignKey(RegistrationAct, on_delete=models.PROTECT, related_name="certificates")
    right = models.ForeignKey(
        "registry.Right", on_delete=models.PROTECT, related_name="certificates"
    )
    journal_position = models.BigIntegerField()
    journal_hash = models.CharField(max_length=64)
    issued_at = models.DateTimeField()

    class Meta:
        ordering = ["-issued_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["office", "year", "kind", "serial"], name="certificate_serial_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.number


class AuditEvent(models.Model):
    """Who did or read what: every act's steps and every reading or export of a title."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=40)
    object_type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=64)
    detail = models.JSONField(default=dict)
    at = models.DateTimeField(db_default=models.functions.Now())

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        label = f"{self.at:%Y-%m-%d %H:%M} {self.user} {self.action}"
        return f"{label} {self.object_type} {self.object_id}"
