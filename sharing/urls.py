from django.urls import path

from . import views

app_name = "sharing"

urlpatterns = [
    path("c/<int:pk>/share", views.share, name="share"),
    path("shares/", views.links, name="links"),
    path("shares/<int:pk>/revoke", views.revoke, name="revoke"),
    path("s/<str:token>", views.shared, name="shared"),
    path("s/<str:token>/continue", views.continue_chat, name="continue"),
]
