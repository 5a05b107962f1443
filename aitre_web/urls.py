from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.template import loader
from django.urls import URLPattern, URLResolver, include, path

from accounts.forms import AdminLoginForm

admin.site.site_header = settings.SITE_NAME
admin.site.site_title = f"{settings.SITE_NAME} admin"
admin.site.login_form = AdminLoginForm

urlpatterns: list[URLPattern | URLResolver] = [
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("usage.urls")),
    path("", include("files.urls")),
    path("", include("images.urls")),
    path("", include("audio.urls")),
    path("", include("midjourney.urls")),
    path("", include("jobs.urls")),
    path("", include("search.urls")),
    path("", include("playground.urls")),
    path("", include("transfer.urls")),
    path("", include("sharing.urls")),
    path("", include("chat.urls")),
]


def server_error(request: HttpRequest) -> HttpResponse:
    """The 500 page: nothing from the request that failed, only the site's name."""
    page = loader.get_template("500.html").render({"site_name": settings.SITE_NAME})
    return HttpResponseServerError(page)


handler500 = server_error


def error_probe(request: HttpRequest) -> HttpResponse:
    """Fails on purpose, to check what a 500 shows and that it is reported (ERROR_PROBE=1 only)."""
    raise RuntimeError("The error probe was asked for a server error.")


if settings.ERROR_PROBE:
    urlpatterns.append(path("__probe__/500", error_probe))
