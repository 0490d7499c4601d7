from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from config import views
from gis_layers import landuse_views, map_views, shelter_views, space_views
from gis_layers import views as gis_views
from registry import views as registry_views

# A database or disk failing outside a view is a 503 with Retry-After, not a 500 page.
handler500 = "config.resilience.server_error"

admin.site.site_header = "LandLedger"
admin.site.site_title = "LandLedger"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/", include("registry.api.urls")),
    path("registry/", include("registry.urls")),
    path("layers/", include("gis_layers.urls")),
    path("ogc/", include("gis_layers.ogc.urls")),
    path("verify/", registry_views.verify_certificate, name="verify"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("map/", map_views.map_page, name="map"),
    path("landuse/", landuse_views.landuse_page, name="landuse"),
    path("shelters/", shelter_views.inventory, name="shelters"),
    path("shelters/<int:pk>/", shelter_views.shelter_detail, name="shelter_detail"),
    path("shelters/coverage/", shelter_views.coverage, name="coverage"),
    path("shelters/coverage/<int:pk>/", shelter_views.coverage_run, name="coverage_run"),
    path(
        "shelters/coverage/<int:pk>/report.<str:fmt>",
        shelter_views.coverage_report,
        name="coverage_report",
    ),
    path("space/", space_views.space_page, name="space"),
    path("space/export.<str:fmt>", space_views.space_export, name="space_export"),
    path("space/lodge/", space_views.space_lodge, name="space_lodge"),
    path("map/popup/<str:layer>/<int:fid>/", map_views.popup, name="map_popup"),
    path("map/search/", map_views.search, name="map_search"),
    # Signed integers, so that an out-of-range tile is answered 400, not "no such page".
    re_path(
        r"^tiles/changes/(?P<z>-?\d+)/(?P<x>-?\d+)/(?P<y>-?\d+)\.pbf$",
        gis_views.changes_vector_tile,
    ),
    re_path(
        r"^tiles/(?P<layer>\w+)/(?P<z>-?\d+)/(?P<x>-?\d+)/(?P<y>-?\d+)\.pbf$", gis_views.vector_tile
    ),
]
