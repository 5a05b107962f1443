from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import Count, QuerySet, Sum
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin[User]):
    list_display = ["username", "email", "is_staff", "is_active", "conversation_count", "tokens_used", "last_login"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        users: QuerySet[User] = (
            super()
            .get_queryset(request)
            .annotate(
                conversation_count=Count("conversations", distinct=True),
                tokens_used=Sum("usage_records__total_tokens"),
            )
        )
        return users

    @admin.display(description=_("conversations"), ordering="conversation_count")
    def conversation_count(self, user: User) -> int:
        return int(user.conversation_count)  # type: ignore[attr-defined]  # an annotation of get_queryset

    @admin.display(description=_("tokens used"), ordering="tokens_used")
    def tokens_used(self, user: User) -> int:
        return int(user.tokens_used or 0)  # type: ignore[attr-defined]  # an annotation of get_queryset
