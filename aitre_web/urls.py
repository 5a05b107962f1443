from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from accounts.forms import AdminLoginForm

admin.site.site_header = "AITRE Web"
admin.site.site_title = "AITRE Web admin"
admin.site.login_form = AdminLoginForm

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("usage.urls")),
    path("", include("chat.urls")),
]


def error_probe(request: HttpRequest) -> HttpResponse:
    """Fails on purpose, to check what a 500 shows and that it is reported (ERROR_PROBE=1 only)."""
    raise RuntimeError("The error probe was asked for a server error.")


if settings.ERROR_PROBE:
    urlpatterns.append(path("__probe__/500", error_probe))
