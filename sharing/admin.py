from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .models import ShareLink


class OpenFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: object) -> list[tuple[str, str]]:
        return [("open", str(_("open"))), ("closed", str(_("revoked or expired")))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ShareLink]) -> QuerySet[ShareLink]:
        open_links = ShareLink.objects.open()
        if self.value() == "open":
            return queryset.filter(pk__in=open_links.values("pk"))
        if self.value() == "closed":
            return queryset.exclude(pk__in=open_links.values("pk"))
        return queryset


LINK_FIELDS = ("owner", "conversation", "audience", "created_at", "expires_at", "revoked_at", "views", "last_viewed_at")


@admin.register(ShareLink)
class ShareLinkAdmin(admin.ModelAdmin[ShareLink]):
    """
    Every share link, to take one down. Metadata only: the title and the
    messages are conversation text, which admins do not read here (chat.privacy).
    """

    list_display = ["__str__", "owner", "audience", "created_at", "expires_at", "revoked_at", "views", "is_open"]
    list_filter = [OpenFilter, "audience"]
    search_fields = ["owner__username"]
    fields = LINK_FIELDS
    readonly_fields = LINK_FIELDS
    actions = ["revoke"]

    @admin.display(boolean=True, description=_("open"))
    def is_open(self, link: ShareLink) -> bool:
        return link.is_open

    @admin.action(description=_("Revoke the selected links"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[ShareLink]) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(
            request,
            ngettext("%(count)d link revoked.", "%(count)d links revoked.", count) % {"count": count},
            messages.SUCCESS,
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
