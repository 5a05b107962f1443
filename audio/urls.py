from django.urls import path

from . import views

app_name = "audio"

urlpatterns = [
    path("m/<int:pk>/read", views.read_aloud, name="read"),
    path("audio/n/<int:pk>/<int:index>", views.piece, name="piece"),
    path("audio/dictate", views.dictate, name="dictate"),
    path("audio/settings", views.update_settings, name="settings"),
    path("audio/", views.audio_page, name="page"),
    path("audio/transcribe", views.transcribe, name="transcribe"),
    path("audio/t/<int:pk>/", views.transcript, name="transcript"),
    path("audio/t/<int:pk>/follow", views.follow, name="follow"),
    path("audio/t/<int:pk>/download", views.download, name="download"),
    path("audio/t/<int:pk>/retry", views.retry, name="retry"),
    path("audio/t/<int:pk>/delete", views.delete, name="delete"),
]
