from django.http import HttpRequest

from .models import User


class AuthenticatedHttpRequest(HttpRequest):
    """A request behind ``login_required``: its user is a signed-in ``User``, never anonymous."""

    user: User
