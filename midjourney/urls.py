from django.urls import path

from . import views

app_name = "midjourney"

urlpatterns = [
    path("mj/", views.page, name="page"),
    path("mj/imagine", views.imagine, name="imagine"),
    path("mj/blend", views.blend, name="blend"),
    path("mj/describe", views.describe, name="describe"),
    path("mj/shorten", views.shorten, name="shorten"),
    path("mj/fetch", views.lookup, name="lookup"),
    path("mj/t/<int:pk>/", views.task_page, name="task"),
    path("mj/t/<int:pk>/follow", views.follow, name="follow"),
    path("mj/t/<int:pk>/press", views.press, name="press"),
    path("mj/t/<int:pk>/modal", views.modal, name="modal"),
    path("mj/t/<int:pk>/retry", views.retry, name="retry"),
    path("mj/t/<int:pk>/split", views.split, name="split"),
    path("mj/t/<int:pk>/delete", views.delete, name="delete"),
    path("mj/hook/<str:token>", views.hook, name="hook"),
]
