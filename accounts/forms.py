from django.contrib.auth.forms import UserCreationForm

from .models import User


class SignupForm(UserCreationForm[User]):
    class Meta:
        model = User
        fields = ["username", "email"]
