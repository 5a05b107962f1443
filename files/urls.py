from django.urls import path

from . import views

app_name = "files"

urlpatterns = [
    path("files/<uuid:pk>", views.serve, name="serve"),
    path("files/<uuid:pk>/thumbnail", views.thumbnail, name="thumbnail"),
    path("files/<uuid:pk>/delete", views.delete, name="delete"),
    path("library/", views.library, name="library"),
]
