from django.core.management.base import BaseCommand, CommandError, no_translations

from config.terminal import progress_bar
from registry.models import JournalEntry
from registry.services.journal import verify_journal


class Command(BaseCommand):
    help = (
        "Recompute the register's journal chain and every sealed payload; exit 0 when intact, "
        "else non-zero naming the first bad entry."
    )

    @no_translations  # the command speaks English, whatever the site's language
    def handle(self, *args, **options):
        with progress_bar(
            self.stderr,
            total=JournalEntry.objects.count(),
            desc="verify_journal",
            unit="entry",
            disable=None,
        ) as bar:
            check = verify_journal(progress=lambda: bar.update(1))
        if not check.intact:
            raise CommandError(
                f"journal entry {check.first_bad_position} is bad: {check.reason} "
                f"({check.entries_checked - 1} entries before it are intact)"
            )
        self.stdout.write(f"journal intact: {check.entries_checked} entries verified")
