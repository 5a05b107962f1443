from django.urls import path

from . import views

app_name = "jobs"

urlpatterns = [
    path("jobs/", views.page, name="page"),
    path("jobs/events", views.events, name="events"),
]
