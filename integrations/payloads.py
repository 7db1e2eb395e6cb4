"""Reading alert webhook bodies into plain values, refusing anything malformed with one reason.

Alertmanager's webhook (version 4) is read as Alertmanager sends it:
https://prometheus.io/docs/alerting/latest/configuration/#webhook_config. Unknown extra fields are
ignored so a newer Alertmanager keeps working; what the alert flow needs is checked strictly."""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import RequestDataTooBig

from integrations import errors

MAX_ALERTS = 1000
MAX_TEXT = 10_000
MAX_KEY = 200
MAX_GROUP_KEY = 1000
MAX_TITLE = 200
# Go's zero time: Alertmanager's endsAt of an alert that is still firing.
GO_ZERO_YEAR = 1


class PayloadError(Exception):
    def __init__(self, reason: str, *, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class ParsedAlert:
    fingerprint: str
    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime | None
    ends_at: datetime | None
    generator_url: str = ""

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "") or self.annotations.get("summary", "") or self.fingerprint

    @property
    def summary(self) -> str:
        return self.annotations.get("summary", "") or self.labels.get("alertname", "")


@dataclass(frozen=True)
class ParsedBatch:
    group_key: str
    alerts: list[ParsedAlert]
    common_labels: dict[str, str] = field(default_factory=dict)
    common_annotations: dict[str, str] = field(default_factory=dict)
    external_url: str = ""
    receiver: str = ""
    truncated_alerts: int = 0
    # The generic webhook names these itself; Alertmanager's come from the rules.
    severity_key: str = ""
    service_slug: str = ""


def read_json_object(body_reader) -> dict:
    try:
        data = json.loads(body_reader())
    except RequestDataTooBig:
        raise PayloadError(errors.BODY_TOO_LARGE, status=413) from None
    except (ValueError, RecursionError):
        raise PayloadError(errors.MALFORMED_JSON) from None
    if not isinstance(data, dict):
        raise PayloadError(errors.BODY_NOT_OBJECT)
    return data


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _text(data: dict, key: str, *, name: str | None = None, required: bool = True, limit: int = MAX_TEXT) -> str:
    name = name or key
    if key not in data or data[key] is None:
        if required:
            raise PayloadError(errors.FIELD_REQUIRED.format(field=name))
        return ""
    value = data[key]
    if not isinstance(value, str):
        raise PayloadError(errors.NOT_A_STRING.format(field=name))
    if not _storable(value):
        raise PayloadError(errors.INVALID_CHARACTERS.format(field=name))
    if len(value) > limit:
        raise PayloadError(errors.TOO_LONG.format(field=name, limit=limit))
    return value


def _string_map(data: dict, key: str, *, name: str | None = None, required: bool = True) -> dict[str, str]:
    name = name or key
    if key not in data or data[key] is None:
        if required:
            raise PayloadError(errors.FIELD_REQUIRED.format(field=name))
        return {}
    value = data[key]
    if not isinstance(value, dict):
        raise PayloadError(errors.NOT_AN_OBJECT.format(field=name))
    for label, text in value.items():
        if not isinstance(text, str):
            raise PayloadError(errors.NOT_STRING_MAP.format(field=name))
        if not (_storable(label) and _storable(text)):
            raise PayloadError(errors.INVALID_CHARACTERS.format(field=name))
        if len(label) > MAX_KEY or len(text) > MAX_TEXT:
            raise PayloadError(errors.TOO_LONG.format(field=name, limit=MAX_TEXT))
    return value


def _status(data: dict, key: str, *, name: str) -> str:
    value = _text(data, key, name=name, limit=16)
    if value not in ("firing", "resolved"):
        raise PayloadError(errors.BAD_STATUS.format(field=name))
    return value


def _time(data: dict, key: str, *, name: str, required: bool = True) -> datetime | None:
    value = _text(data, key, name=name, required=required, limit=64)
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise PayloadError(errors.BAD_TIME.format(field=name)) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise PayloadError(errors.BAD_TIME.format(field=name))
    if moment.year <= GO_ZERO_YEAR:
        return None
    return moment


def _labels_fingerprint(labels: dict[str, str]) -> str:
    """Alertmanagers before 0.19 sent no fingerprint; a stable digest of the labels stands in."""
    return hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]


def alertmanager_batch(data: dict) -> ParsedBatch:
    version = data.get("version")
    if version != "4":
        if "version" not in data:
            raise PayloadError(errors.FIELD_REQUIRED.format(field="version"))
        raise PayloadError(errors.UNSUPPORTED_VERSION.format(version=str(version)[:20]))
    group_key = _text(data, "groupKey", limit=MAX_GROUP_KEY)
    _status(data, "status", name="status")
    receiver = _text(data, "receiver", required=False, limit=MAX_KEY)
    _string_map(data, "groupLabels", required=False)
    common_labels = _string_map(data, "commonLabels", required=False)
    common_annotations = _string_map(data, "commonAnnotations", required=False)
    external_url = _text(data, "externalURL", required=False, limit=1000)
    truncated = data.get("truncatedAlerts", 0)
    if not isinstance(truncated, int) or isinstance(truncated, bool) or truncated < 0:
        truncated = 0
    raw_alerts = data.get("alerts")
    if raw_alerts is None:
        raise PayloadError(errors.FIELD_REQUIRED.format(field="alerts"))
    if not isinstance(raw_alerts, list):
        raise PayloadError(errors.NOT_A_LIST.format(field="alerts"))
    if not raw_alerts:
        raise PayloadError(errors.NO_ALERTS)
    if len(raw_alerts) > MAX_ALERTS:
        raise PayloadError(errors.TOO_MANY_ALERTS.format(limit=MAX_ALERTS))
    alerts = []
    for index, raw in enumerate(raw_alerts):
        where = f"alerts[{index}]"
        if not isinstance(raw, dict):
            raise PayloadError(errors.NOT_AN_OBJECT.format(field=where))
        labels = _string_map(raw, "labels", name=f"{where}.labels")
        fingerprint = _text(raw, "fingerprint", name=f"{where}.fingerprint", required=False, limit=MAX_KEY)
        alerts.append(
            ParsedAlert(
                fingerprint=fingerprint or _labels_fingerprint(labels),
                status=_status(raw, "status", name=f"{where}.status"),
                labels=labels,
                annotations=_string_map(raw, "annotations", name=f"{where}.annotations", required=False),
                starts_at=_time(raw, "startsAt", name=f"{where}.startsAt"),
                ends_at=_time(raw, "endsAt", name=f"{where}.endsAt", required=False),
                generator_url=_text(raw, "generatorURL", name=f"{where}.generatorURL", required=False, limit=1000),
            )
        )
    return ParsedBatch(
        group_key=group_key,
        alerts=alerts,
        common_labels=common_labels,
        common_annotations=common_annotations,
        external_url=external_url,
        receiver=receiver,
        truncated_alerts=truncated,
    )


GENERIC_FIELDS = ("title", "severity", "service", "dedup_key", "status", "description", "url")


def generic_batch(data: dict) -> ParsedBatch:
    """{title, severity, service, dedup_key, status firing|resolved, description, url}: one alert."""
    dedup_key = _text(data, "dedup_key", limit=MAX_KEY)
    if not dedup_key.strip():
        raise PayloadError(errors.FIELD_REQUIRED.format(field="dedup_key"))
    status = _status(data, "status", name="status") if data.get("status") is not None else "firing"
    title = _text(data, "title", required=status == "firing", limit=MAX_TITLE).strip()
    if status == "firing" and not title:
        raise PayloadError(errors.FIELD_REQUIRED.format(field="title"))
    severity = _text(data, "severity", required=False, limit=16).strip()
    service = _text(data, "service", required=False, limit=100).strip()
    description = _text(data, "description", required=False)
    url = _text(data, "url", required=False, limit=1000).strip()
    labels = {"alertname": title or dedup_key}
    if severity:
        labels["severity"] = severity
    if service:
        labels["service"] = service
    annotations = {"summary": title} if title else {}
    if description:
        annotations["description"] = description
    if url:
        annotations["runbook_url"] = url
    alert = ParsedAlert(
        fingerprint=dedup_key,
        status=status,
        labels=labels,
        annotations=annotations,
        # The tool gives no times: the alert counts from when it reached us (the incident's detection).
        starts_at=None,
        ends_at=None,
        generator_url=url,
    )
    return ParsedBatch(
        group_key=f"generic:{dedup_key}",
        alerts=[alert],
        severity_key=severity,
        service_slug=service,
    )
