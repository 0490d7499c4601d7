from django.contrib.auth.decorators import login_required
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from gis_layers.selectors import demo_inventory
from registry.roles import ROLE_DESCRIPTIONS, roles_of


@never_cache
@require_GET
def healthz(request):
    """200 with the database and PostGIS versions; 503 when the database cannot answer."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('server_version'), postgis_lib_version()")
            server_version, postgis_version = cursor.fetchone()
    except DatabaseError as error:
        # Say which kind of failure without leaking connection details.
        return JsonResponse(
            {"status": "unavailable", "database": f"unreachable ({type(error).__name__})"},
            status=503,
        )
    return JsonResponse(
        {"status": "ok", "database": f"PostgreSQL {server_version}", "postgis": postgis_version}
    )


@login_required
def home(request):
    """Landing page after login: what each role can do, and what data is loaded."""
    held = roles_of(request.user)
    context = {
        "roles": [
            {"name": role.value, "description": text, "held": role in held}
            for role, text in ROLE_DESCRIPTIONS.items()
        ],
        "inventory": demo_inventory(user=request.user),
    }
    return render(request, "home.html", context)
