from django.urls import path

from . import views

app_name = "transfer"

urlpatterns = [
    path("c/<int:pk>/export.md", views.conversation_markdown, name="markdown"),
    path("c/<int:pk>/export.json", views.conversation_json, name="json"),
    path("transfer/", views.page, name="page"),
    path("transfer/export", views.start_export, name="export"),
    path("transfer/import", views.import_file, name="import"),
    path("transfer/exports/<uuid:pk>", views.download, name="download"),
    path("transfer/exports/<uuid:pk>/status", views.export_status, name="status"),
    path("transfer/exports/<uuid:pk>/delete", views.delete_export, name="delete"),
    path("transfer/imports/<uuid:pk>/status", views.import_status, name="import_status"),
    path("transfer/imports/<uuid:pk>/cancel", views.cancel_import, name="cancel_import"),
]
