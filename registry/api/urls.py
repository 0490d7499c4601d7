"""The register's REST API under ``/api/``, its OpenAPI 3 schema and browsable docs.

The docs page loads Swagger UI from this server's static files (drf-spectacular-sidecar),
never from a CDN. Redoc is not offered: its page template fetches web fonts from a CDN.
"""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from registry.api import views

app_name = "api"
urlpatterns = [
    path("titles/", views.TitleSearchView.as_view(), name="title-list"),
    path("titles/<int:title_id>/", views.TitleDetailView.as_view(), name="title-detail"),
    path("titles/<int:title_id>/chain/", views.TitleChainView.as_view(), name="title-chain"),
    # Before the unit-code route, which would otherwise take "at" for a code.
    path("parcels/at/", views.ParcelAtPointView.as_view(), name="parcel-at-point"),
    path("parcels/<str:unit_code>/", views.ParcelDetailView.as_view(), name="parcel-detail"),
    path(
        "parcels/<str:unit_code>/lineage/",
        views.ParcelLineageView.as_view(),
        name="parcel-lineage",
    ),
    path("acts/", views.ActListView.as_view(), name="act-list"),
    path("acts/<int:act_id>/", views.ActDetailView.as_view(), name="act-detail"),
    path("acts/<int:act_id>/examine/", views.ActExamineView.as_view(), name="act-examine"),
    path("acts/<int:act_id>/approve/", views.ActApproveView.as_view(), name="act-approve"),
    path("acts/<int:act_id>/reject/", views.ActRejectView.as_view(), name="act-reject"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its set-up script as a file: the CSP allows no inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
]
