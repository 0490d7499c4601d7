from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from registry.auth import DEMO_ACCOUNTS_GROUP
from registry.roles import Role
from registry.services.users import create_user_with_role

DEMO_PASSWORD = "demo"


class Command(BaseCommand):
    help = "Create one demo account per role (development only; passwords are demo-only)."

    def handle(self, *args, **options):
        if not settings.LANDLEDGER_DEMO_ACCOUNTS_ALLOWED:
            raise CommandError("Demo accounts are refused when DEBUG is off (production).")
        self.stdout.write(
            "Demo accounts (password for each: 'demo'; DEMO ONLY, never in production):"
        )
        demo_accounts, _ = Group.objects.get_or_create(name=DEMO_ACCOUNTS_GROUP)
        for role in Role:
            user = create_user_with_role(username=role.value, password=DEMO_PASSWORD, role=role)
            # Marked as such: they cannot log in once DEBUG is off (registry.auth).
            user.groups.add(demo_accounts)
            self.stdout.write(f"  {user.username:<26} role: {role.value}")
