"""The audit trail in the console: a filtered, paginated list, one event's detail and a CSV
export — the rows the API's ``/api/v1/audit-events/`` would give the same person
(``restrict`` on ``listAuditEvents``), with the API's filters (``AuditEventFilterSet``).

Times are shown in the viewer's time zone (``ConsoleTimezoneMiddleware``); the time range is
read in it too (a ``datetime-local`` value has no offset). Request bodies are shown as the
audit layer stored them (redacted before storage), and redacted once more on the way out, so
a row written before a redaction rule existed cannot show what the rule now hides.
"""

from __future__ import annotations

import csv
import json

from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponseBadRequest, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.audit.choices import Outcome
from apps.audit.filtersets import AuditEventFilterSet
from apps.audit.models import AuditEvent
from apps.audit.redaction import redact
from apps.authz.enforcer import can_any, check, restrict
from apps.terminal.views import replayable_session

from .base import ConsoleDenied, ConsoleView

PAGE_SIZE = 50
# The most rows one export holds (newest first); narrow the filters for older ones.
EXPORT_LIMIT = 50_000
EXPORT_FIELDS = (
    "created_at",
    "username",
    "action",
    "resource",
    "outcome",
    "status_code",
    "channel",
    "method",
    "path",
    "source_ip",
    "duration_ms",
    "request_id",
    "message",
)


def visible_events(view: ConsoleView, action: str = "listAuditEvents"):
    """The audit events the signed-in user may list in the console's tenant scope."""
    queryset = AuditEvent.objects.in_scope(view.scope)
    return restrict(queryset, view.request.user, action)


def _filtered(view: ConsoleView, queryset):
    """The API's filters, plus: a user named without their tenant (``bob``) matches the
    stored ``acme/bob`` too."""
    params = view.request.GET.copy()
    for key in ("since", "until"):
        # datetime-local sends "2026-12-01T09:00": read in the viewer's zone by the form.
        if params.get(key):
            params[key] = params[key].replace("T", " ")
    username = params.pop("username", [""])[-1].strip()[:160].replace("\x00", "")
    if username:
        query = Q(username=username)
        if "/" not in username:
            query |= Q(username__endswith=f"/{username}")
        queryset = queryset.filter(query)
    return AuditEventFilterSet(params, queryset=queryset)


class AuditListView(ConsoleView):
    template_name = "console/audit/list.html"
    authz_action = "listAuditEvents"
    title = gettext_lazy("Audit")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        filterset = _filtered(self, visible_events(self))
        rows = filterset.qs if filterset.is_valid() else AuditEvent.objects.none()
        page = Paginator(rows.order_by("-created_at", "-id"), PAGE_SIZE).get_page(
            self.request.GET.get("page")
        )
        query = self.request.GET.copy()
        query.pop("page", None)
        context.update(
            filterset=filterset,
            errors=filterset.errors,
            page=page,
            events=page.object_list,
            query=query.urlencode(),
            params=self.request.GET,
            outcomes=Outcome.choices,
            may_export=can_any(self.request.user, "exportAuditEvents"),
        )
        return context

    def get_template_names(self):
        if self.request.htmx and self.request.htmx.target == "audit-results":
            return ["console/audit/_results.html"]
        return [self.template_name]


class AuditEventView(ConsoleView):
    template_name = "console/audit/event.html"
    authz_action = "getAuditEvent"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        event = visible_events(self, "getAuditEvent").filter(pk=kwargs["pk"]).first()
        if event is None:
            raise Http404("No such audit event.")
        # As the API: one's own events are self-service (owner), others' need the policy.
        decision = check(
            self.request.user,
            "getAuditEvent",
            event.authz_resource,
            tenant=event.tenant,
            owner=event.user_id,
        )
        if not decision:
            raise ConsoleDenied("getAuditEvent", event.authz_resource, decision.reason)
        body = event.request_body
        shown = json.dumps(redact(body), indent=2, ensure_ascii=False) if body is not None else ""
        context.update(
            title=_("Audit event %(id)s") % {"id": event.pk},
            event=event,
            body=shown,
            terminal_session=replayable_session(self.request.user, event),
        )
        return context


class _Echo:
    def write(self, value):
        return value


def _csv_cell(value) -> str:
    """No spreadsheet formulas from user-controlled text (CSV injection)."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


class AuditExportView(ConsoleView):
    """The filtered list as CSV (``exportAuditEvents``, a bulk read kept apart from listing)."""

    authz_action = "exportAuditEvents"

    def get(self, request, *args, **kwargs):
        queryset = restrict(visible_events(self), request.user, "exportAuditEvents")
        filterset = _filtered(self, queryset)
        if not filterset.is_valid():
            problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in filterset.errors.items())
            return HttpResponseBadRequest(problems, content_type="text/plain; charset=utf-8")
        # The body is written after the time-zone middleware has returned: keep the zone.
        zone = timezone.get_current_timezone()
        rows = filterset.qs.order_by("-created_at", "-id")[:EXPORT_LIMIT]
        writer = csv.writer(_Echo())

        def lines():
            yield writer.writerow(EXPORT_FIELDS)
            for event in rows.iterator(chunk_size=2000):
                cells = []
                for field in EXPORT_FIELDS:
                    value = getattr(event, field)
                    if field == "created_at":
                        value = timezone.localtime(value, zone).isoformat()
                    cells.append(_csv_cell(value))
                yield writer.writerow(cells)

        stamp = timezone.localtime(timezone=zone).strftime("%Y%m%d-%H%M%S")
        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
        return response
