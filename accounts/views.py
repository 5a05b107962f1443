from typing import Any

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from .forms import LoginForm, SignupForm, ThemeForm
from .http import AuthenticatedHttpRequest


class LoginView(auth_views.LoginView):
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        # Django's view names the site after the request's host; the page's brand is SITE_NAME.
        return {**super().get_context_data(**kwargs), "site_name": settings.SITE_NAME}

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        throttled = any(error.code == "throttled" for error in form.non_field_errors().as_data())
        # 429 when locked out; a wrong password is a plain 400 (nothing changed).
        response.status_code = 429 if throttled else 400
        return response


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    # With SIGNUP=closed (the default) admins create users; the page does not exist.
    if settings.SIGNUP != "open":
        raise Http404
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user)
        return redirect(settings.LOGIN_REDIRECT_URL)
    return render(request, "registration/signup.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@require_POST
def theme(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Remember the user's theme; back to the page the choice was made on."""
    form = ThemeForm(request.POST, instance=request.user)
    if not form.is_valid():
        return HttpResponseBadRequest(_("Choose a theme: system, light or dark."))
    form.save()
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        back = reverse("chat:account")
    return redirect(back)
