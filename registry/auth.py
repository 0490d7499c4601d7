"""Who may log in, beyond Django's own rules."""

from django.conf import settings
from django.contrib.auth.backends import ModelBackend

from registry.roles import Role

# The accounts `create_demo_users` makes, one per role and named after it: their password
# is published in the README.
DEMO_ACCOUNTS_GROUP = "demo accounts"
DEMO_USERNAMES = frozenset(role.value for role in Role)


class RegisterModelBackend(ModelBackend):
    """Django's backend, refusing the demo accounts wherever they are not allowed (``DEBUG``
    off): at login, and for sessions opened before, since Django asks this for the user of
    every request's session too. A database that ever served a demo keeps its accounts."""

    def user_can_authenticate(self, user) -> bool:
        if not super().user_can_authenticate(user):
            return False
        return (
            settings.LANDLEDGER_DEMO_ACCOUNTS_ALLOWED
            # Asked on every request: the group is read only for the demo accounts' names.
            or user.get_username() not in DEMO_USERNAMES
            or not user.groups.filter(name=DEMO_ACCOUNTS_GROUP).exists()
        )
