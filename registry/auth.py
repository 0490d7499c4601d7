"""Who may log in, beyond Django's own rules."""

from django.conf import settings
from django.contrib.auth.backends import ModelBackend

# The accounts `create_demo_users` makes: their password is published in the README.
DEMO_ACCOUNTS_GROUP = "demo accounts"


class RegisterModelBackend(ModelBackend):
    """Django's backend, refusing the demo accounts wherever they are not allowed (``DEBUG``
    off): at login, and for sessions opened before, since Django asks this for the user of
    every request's session too. A database that ever served a demo keeps its accounts."""

    def user_can_authenticate(self, user) -> bool:
        if not super().user_can_authenticate(user):
            return False
        return (
            settings.LANDLEDGER_DEMO_ACCOUNTS_ALLOWED
            or not user.groups.filter(name=DEMO_ACCOUNTS_GROUP).exists()
        )
