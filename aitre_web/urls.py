from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "AITRE Web"
admin.site.site_title = "AITRE Web admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("chat.urls")),
]
