"""Write-side operations on the register. Keyword-only; each is one transaction."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction

from registry.models import Clearance
from registry.roles import ROLE_CLEARANCE, ROLE_PERMISSIONS, Role


def _app_and_codename(permission: str) -> tuple[str, str]:
    app_label, codename = permission.split(".", 1)
    return app_label, codename


@transaction.atomic
def ensure_role_groups() -> dict[Role, Group]:
    """Create or update one group per role with exactly the role's permissions (one query
    reads them all: this runs for every account made)."""
    wanted = {
        role: {_app_and_codename(name) for name in names}
        for role, names in ROLE_PERMISSIONS.items()
    }
    every = set().union(*wanted.values())
    by_name = {
        (permission.content_type.app_label, permission.codename): permission
        for permission in Permission.objects.select_related("content_type").filter(
            codename__in={codename for _, codename in every}
        )
    }
    if missing := every - by_name.keys():
        raise LookupError(
            "no such permission: " + ", ".join(sorted(f"{app}.{code}" for app, code in missing))
        )
    groups = {}
    for role, names in wanted.items():
        group, _ = Group.objects.get_or_create(name=role.value)
        group.permissions.set([by_name[name] for name in names])  # writes only what differs
        groups[role] = group
    return groups


@transaction.atomic
def create_user_with_role(*, username: str, password: str | None, role: Role):
    """Create (or reset) a staff user holding one role and the role's clearance; with no
    password the account cannot log in (a service account)."""
    groups = ensure_role_groups()
    user, _ = get_user_model().objects.get_or_create(username=username)
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    user.is_staff = True
    # No role is a superuser: an administrator manages users, not titles, and is held to the
    # same permission checks as everyone else.
    user.is_superuser = False
    user.save()
    user.groups.set([groups[role]])
    Clearance.objects.update_or_create(user=user, defaults={"level": ROLE_CLEARANCE[role]})
    return user
