from django.urls import path

from . import views

app_name = "chat"

urlpatterns = [
    path("", views.home, name="home"),
    path("c/new", views.start_conversation, name="start"),
    path("c/<int:pk>/", views.conversation, name="conversation"),
    path("c/<int:pk>/send", views.send, name="send"),
    path("c/<int:pk>/changes", views.changes, name="changes"),
    path("c/<int:pk>/settings", views.update_settings, name="settings"),
    path("c/<int:pk>/pin", views.toggle_pin, name="pin"),
    path("c/<int:pk>/delete", views.delete, name="delete"),
    path("m/<int:pk>/stream", views.stream, name="stream"),
    path("m/<int:pk>/stop", views.stop, name="stop"),
    path("m/<int:pk>/regenerate", views.regenerate, name="regenerate"),
    path("m/<int:pk>/continue", views.continue_reply, name="continue"),
    path("m/<int:pk>/edit", views.edit, name="edit"),
    path("m/<int:pk>/select", views.select_version, name="select"),
    path("settings/", views.account, name="account"),
]
