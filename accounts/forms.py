from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm

from .models import User
from .throttle import LoginThrottle, lockout_message


class SignupForm(UserCreationForm[User]):
    class Meta:
        model = User
        fields = ["username", "email"]


class ThrottledLogin:
    """Refuses a locked-out account or address before checking the password, and counts failures."""

    request: Any
    data: Any

    def clean(self) -> dict[str, Any]:
        throttle = LoginThrottle(self.request, str(self.data.get("username", "")))
        locked = throttle.locked_seconds()
        if locked:
            raise forms.ValidationError(lockout_message(locked), code="throttled")
        try:
            cleaned: dict[str, Any] = super().clean()  # type: ignore[misc]
        except forms.ValidationError:
            throttle.failed()
            raise
        throttle.succeeded()
        return cleaned


class LoginForm(ThrottledLogin, AuthenticationForm):
    pass


class AdminLoginForm(ThrottledLogin, AdminAuthenticationForm):
    pass


class ThemeForm(forms.ModelForm[User]):
    class Meta:
        model = User
        fields = ["theme"]
        widgets = {"theme": forms.RadioSelect}
