from django.urls import path

from registry import views

app_name = "registry"
urlpatterns = [
    path("", views.desk, name="desk"),
    path("titles/<int:pk>/", views.title_detail, name="title"),
    path("titles/<int:pk>/extract/", views.title_extract, name="extract"),
    path("titles/<int:pk>/lodge/<str:act_type>/", views.lodge, name="lodge"),
    path("acts/<int:pk>/", views.act_detail, name="act"),
    path("acts/<int:pk>/sources/<int:source_pk>/", views.source_download, name="source"),
    path("certificates/<int:pk>/", views.certificate_detail, name="certificate"),
    path("certificates/<int:pk>/pdf/", views.certificate_download, name="certificate_pdf"),
    path("audit/", views.audit_log, name="audit"),
]
