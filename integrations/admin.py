from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from core.forms import WriteOnlyFieldsMixin
from core.outbound import MASK, outbound_url_check, url_masked
from integrations.alerts import alert_source_create, alert_source_token_rotate
from integrations.models import (
    Alert,
    AlertRule,
    AlertSource,
    RejectedPayload,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)

MATCHERS_NOT_A_MAP = 'Matchers are an object of label names to exact values, e.g. {"severity": "critical"}.'


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records of what happened: shown, never edited."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class AlertRuleForm(forms.ModelForm):
    class Meta:
        model = AlertRule
        fields = ["name", "source", "matchers", "severity", "service", "order", "auto_resolve"]

    def clean_matchers(self) -> dict:
        matchers = self.cleaned_data["matchers"] or {}
        if not isinstance(matchers, dict) or not all(
            isinstance(key, str) and isinstance(value, str) for key, value in matchers.items()
        ):
            raise forms.ValidationError(MATCHERS_NOT_A_MAP)
        return matchers


class SourceRuleInline(admin.TabularInline):
    """The source's own rules, starting with the severity mapping every new source gets
    (severity=critical → the most severe policy … info → the fourth), edited in place."""

    model = AlertRule
    form = AlertRuleForm
    fields = ["order", "name", "matchers", "severity", "service", "auto_resolve"]
    extra = 0
    ordering = ["order", "pk"]


@admin.register(AlertSource)
class AlertSourceAdmin(admin.ModelAdmin):
    inlines = [SourceRuleInline]
    list_display = ["name", "kind", "prefix", "dedup_window_seconds", "rate_limit_per_minute", "active", "last_used_at"]
    list_filter = ["kind", "active"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    actions = ["rotate_token"]

    def get_inlines(self, request: HttpRequest, obj: AlertSource | None) -> list:
        # A new source gets its severity mapping when it is saved; its rules are edited from then on.
        return self.inlines if obj is not None else []

    def save_model(self, request: HttpRequest, obj: AlertSource, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        fields = {
            name: form.cleaned_data[name]
            for name in ("dedup_window_seconds", "rate_limit_per_minute", "default_severity", "incident_lead", "active")
        }
        source, token = alert_source_create(name=obj.name, kind=obj.kind, **fields)
        obj.pk, obj.digest, obj.prefix = source.pk, source.digest, source.prefix
        messages.warning(request, f"The token of {source.name}, shown this once: {token}")

    @admin.action(description="Rotate the token (the old one stops working)")
    def rotate_token(self, request: HttpRequest, queryset: QuerySet[AlertSource]) -> None:
        for source in queryset:
            token = alert_source_token_rotate(source=source)
            messages.warning(request, f"The new token of {source.name}, shown this once: {token}")


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    form = AlertRuleForm
    list_display = ["name", "order", "source", "matchers", "severity", "service", "auto_resolve"]
    list_editable = ["order", "auto_resolve"]
    list_select_related = ["source", "severity", "service"]
    ordering = ["order", "pk"]


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ["name", "status", "incident", "last_received_at", "times_received"]
    list_filter = ["status", "source"]
    list_select_related = ["source", "incident"]
    search_fields = ["name", "fingerprint", "group_key"]


@admin.register(RejectedPayload)
class RejectedPayloadAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "reason", "status_code", "source"]
    list_filter = ["status_code", "endpoint", "source"]
    list_select_related = ["source"]


class WebhookDeliveryInline(admin.TabularInline):
    """The delivery log of one subscription: what went out, when, and whether it arrived."""

    model = WebhookDelivery
    fields = ["created_at", "event", "incident", "status", "attempts", "sent_at", "last_error"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ["-created_at", "-pk"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookDelivery]:
        return super().get_queryset(request).select_related("delivery", "incident")

    @admin.display(description="Status")
    def status(self, link: WebhookDelivery) -> str:
        return link.delivery.get_status_display()

    @admin.display(description="Attempts")
    def attempts(self, link: WebhookDelivery) -> int:
        return link.delivery.attempts

    @admin.display(description="Sent at")
    def sent_at(self, link: WebhookDelivery):
        return link.delivery.sent_at

    @admin.display(description="Last error")
    def last_error(self, link: WebhookDelivery) -> str:
        return link.delivery.last_error


class WebhookSubscriptionForm(WriteOnlyFieldsMixin, forms.ModelForm):
    """The URL and the signing secret are credentials: shown masked, replaced, never sent back."""

    write_only = {"url": url_masked, "secret": lambda secret: MASK}
    url = forms.URLField(max_length=500, assume_scheme="https", label="URL")
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None ticked: every event.",
    )

    class Meta:
        model = WebhookSubscription
        fields = ["team", "url", "secret", "events", "include_internal_updates", "body_format", "active"]

    def clean_url(self) -> str:
        outbound_url_check(self.cleaned_data["url"])
        return self.cleaned_data["url"]


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    form = WebhookSubscriptionForm
    list_display = ["team", "endpoint", "events", "body_format", "include_internal_updates", "active"]
    list_filter = ["active", "body_format"]
    inlines = [WebhookDeliveryInline]

    @admin.display(description="URL")
    def endpoint(self, subscription: WebhookSubscription) -> str:
        return url_masked(subscription.url)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "subscription", "event", "incident", "delivery_status", "attempts"]
    list_filter = ["event", "subscription"]
    list_select_related = ["subscription", "incident", "delivery"]

    @admin.display(description="Status")
    def delivery_status(self, link: WebhookDelivery) -> str:
        return link.delivery.get_status_display()

    @admin.display(description="Attempts")
    def attempts(self, link: WebhookDelivery) -> int:
        return link.delivery.attempts
