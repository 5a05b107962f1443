from django.urls import path

from . import views

app_name = "playground"

urlpatterns = [
    path("playground/", views.page, name="page"),
    path("playground/run", views.run, name="start"),
    path("playground/r/<int:pk>/", views.run_page, name="run"),
    path("playground/r/<int:pk>/stop", views.stop, name="stop"),
    path("playground/r/<int:pk>/rename", views.rename, name="rename"),
    path("playground/r/<int:pk>/delete", views.delete, name="delete"),
]
