from django.db import models


class HistoryEvent(models.Model):
    """A row change in a register table, written by a database trigger.

    Triggers see every change, bulk updates and raw SQL included; ``app_user`` is the
    LandLedger user the service named for the transaction (``landledger.app_user``), and
    ``db_user`` the database role that made the change. Append-only: the database refuses
    UPDATE, DELETE and TRUNCATE.
    """

    table_name = models.CharField(max_length=63)
    row_pk = models.CharField(max_length=64)
    operation = models.CharField(max_length=1, help_text="I insert, U update, D delete")
    changed_at = models.DateTimeField()
    transaction_id = models.BigIntegerField()
    db_user = models.CharField(max_length=63)
    app_user = models.CharField(max_length=150, blank=True)
    old = models.JSONField(null=True)
    new = models.JSONField(null=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["table_name", "row_pk", "changed_at"])]

    def __str__(self) -> str:
        return (
            f"{self.changed_at:%Y-%m-%d %H:%M:%S} {self.operation} {self.table_name} {self.row_pk}"
        )
