from django.urls import path

from . import views

app_name = "images"

urlpatterns = [
    path("studio/", views.studio_page, name="studio"),
    path("studio/generate", views.generate, name="generate"),
    path("studio/g/<int:pk>/follow", views.follow, name="follow"),
    path("studio/g/<int:pk>/retry", views.retry, name="retry"),
    path("studio/g/<int:pk>/delete", views.delete, name="delete"),
]
