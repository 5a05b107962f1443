"""The site's URLs plus the error probe, for tests that need a server error on demand."""

from django.urls import path

from aitre_web.urls import error_probe
from aitre_web.urls import urlpatterns as site_urlpatterns

urlpatterns = [*site_urlpatterns, path("__probe__/500", error_probe)]
