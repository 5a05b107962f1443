from django.contrib import admin
from django.urls import include, path

from accounts.forms import AdminLoginForm

admin.site.site_header = "AITRE Web"
admin.site.site_title = "AITRE Web admin"
admin.site.login_form = AdminLoginForm

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("chat.urls")),
]
