from django.urls import path

from gis_layers import import_views, views

app_name = "gis_layers"
urlpatterns = [
    path("export/", views.export, name="export"),
    path("import/", import_views.upload, name="import"),
    path("import/progress/", import_views.progress, name="import_progress"),
    path("import/send/", import_views.send, name="import_send"),
    path("import/<str:token>/", import_views.confirm, name="import_confirm"),
    path(
        "import/<str:token>/report.<str:report_format>",
        import_views.download_report,
        name="import_report",
    ),
]
