from django.contrib import admin

from core.forms import WebhookUrlForm
from core.outbound import url_masked
from notifications.models import Channel, ChannelPreference, Delivery, Message


@admin.display(description="Target")
def shown_target(delivery: Delivery) -> str:
    """A webhook's URL is a credential: masked here too."""
    return url_masked(delivery.target) if delivery.channel == Channel.WEBHOOK else delivery.target


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    can_delete = False
    fields = ["channel", shown_target, "status", "attempts", "last_error", "sent_at", "read_at"]
    readonly_fields = fields


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["subject", "topic", "created_at"]
    search_fields = ["subject", "topic", "dedup_key"]
    readonly_fields = ["dedup_key", "topic", "subject", "body_text", "body_html", "link", "payload", "created_at"]
    inlines = [DeliveryInline]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """The delivery log: what went where, and what failed with which error."""

    list_display = ["message", "channel", shown_target, "status", "attempts", "created_at", "sent_at"]
    list_filter = ["status", "channel"]
    list_select_related = ["message"]
    fields = readonly_fields = [shown_target if f.name == "target" else f.name for f in Delivery._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


class ChannelPreferenceForm(WebhookUrlForm):
    """A person's own webhook URL is a credential: shown masked, replaced or removed, never sent back."""

    class Meta:
        model = ChannelPreference
        fields = ["user", "email", "webhook_url", "webhook_format"]


@admin.register(ChannelPreference)
class ChannelPreferenceAdmin(admin.ModelAdmin):
    form = ChannelPreferenceForm
    list_display = ["user", "email", "webhook_host"]
    list_select_related = ["user"]
    autocomplete_fields = ["user"]
