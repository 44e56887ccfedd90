"""The alarm console's writes: create, edit, copy and delete alarm policies (one or several),
a policy's page (its conditions, recent records and silences), and silences made from a
policy, edited (until they end), expired and deleted.

Authorized like the REST API (``apps/monitoring/api/alerts.py``) with its action names and
resource paths: a policy the user may not get (``getAlarmPolicy``), on a cluster they may not
read (``getCluster``), or another tenant's, is 404; then ``createAlarmPolicy`` /
``updateAlarmPolicy`` / ``deleteAlarmPolicy`` on the policy's path — for workload and pod
policies ``cluster:<c>/namespace:<ns>/alarmpolicy:<name>``, decided in the project owning
the namespace, and a policy moved to another namespace is judged there too — and
``createAlarmSilence`` / ``updateAlarmSilence`` (edit, expire) / ``deleteAlarmSilence`` on
``<policy path>/alarmsilence:…`` (the console's 403 page). Every write goes through
:mod:`apps.monitoring.alerts.services`, whose validation errors are shown beside their fields;
the audit middleware records it under the action and resource named here. The policy form
offers the receivers, groups and channels the user may add (``services.sendable``) and those
the policy has; a copy's recipients it may not add are shown on top of the copy's form.
"""

from __future__ import annotations

from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.authz.enforcer import check, restrict
from apps.clusters.models import Cluster
from apps.monitoring.alerts import services
from apps.monitoring.alerts.choices import NAMESPACED_TYPES
from apps.monitoring.alerts.models import AlarmPolicy, AlarmRecord, AlarmSilence
from apps.notify.models import NotifyTemplate
from apps.projects.models import ProjectNamespace

from ..forms.alerts import CopyForm, MetricRowForm, PolicyForm, SilenceEditForm, SilenceForm
from .base import ConsoleDenied
from .registry import RegistryAreaView

RECENT = 20  # records and silences a policy's page lists


def policy_path(cluster: str, policy_type: str, namespace: str, name: str) -> str:
    """The path a policy of this type and namespace is judged on (the API's: a namespaced
    type without a namespace is judged on the cluster)."""
    if policy_type in NAMESPACED_TYPES and namespace:
        return f"cluster:{cluster}/namespace:{namespace}/alarmpolicy:{name}"
    return f"cluster:{cluster}/alarmpolicy:{name}"


def policy_url(policy: AlarmPolicy, suffix: str = "") -> str:
    return reverse(f"console:alarm-policy{suffix}", args=[policy.cluster.name, policy.name])


def _labelled(field: str, message: str) -> str:
    """An error of a policy field a smaller form does not have (a copy's receivers: the copy
    page asks only for a name) with the field's label, shown on top of the form."""
    policy_field = PolicyForm.base_fields.get({"objects": "object_names"}.get(field, field))
    if policy_field is None:
        return message
    return _("%(field)s: %(message)s") % {"field": policy_field.label, "message": message}


class AlertArea(RegistryAreaView):
    """Lookups and checks shared by the alarm pages."""

    def visible_clusters(self):
        return restrict(Cluster.objects.in_scope(self.scope), self.request.user, "getCluster")

    def get_policy(self, cluster: str, name: str) -> AlarmPolicy:
        """The policy if the user may read its cluster and get it, else 404."""
        if not self.visible_clusters().filter(name=cluster.replace("\x00", "")).exists():
            raise Http404(_("Not found."))
        queryset = AlarmPolicy.objects.select_related("cluster", "tenant").prefetch_related(
            "metrics"
        )
        return self.get_visible(queryset, "getAlarmPolicy", cluster__name=cluster, name=name)

    def get_silence(self, pk: int) -> AlarmSilence:
        queryset = AlarmSilence.objects.select_related(
            "policy__cluster", "policy__tenant", "tenant"
        )
        silence = self.get_visible(queryset, "getAlarmSilence", pk=pk)
        if not self.visible_clusters().filter(pk=silence.policy.cluster_id).exists():
            raise Http404(_("Not found."))
        return silence

    def silence_for(self, action: str, pk: int) -> AlarmSilence:
        """The silence, when the user may ``action`` it (else 404 / the console's 403)."""
        silence = self.get_silence(pk)
        self.authorize_on(action, silence.authz_resource, silence.tenant)
        return silence

    def invalid(self, form, exc: ValidationError | None = None, **context):
        """The form again with its errors (400); the audit row says what was wrong."""
        if exc is not None:
            self.note_failure(exc)
            if isinstance(form, PolicyForm):
                form.add_service_errors(exc)
            else:
                for field, said in exc.message_dict.items():
                    target = field if field in form.fields else None
                    for message in said:
                        form.add_error(target, message if target else _labelled(field, message))
        else:
            self.note_failure(_("Invalid form: %(fields)s") % {"fields": ", ".join(form.errors)})
        return self.render_to_response(self.get_context_data(form=form, **context), status=400)

    def back(self, default: str) -> str:
        """The page to go back to: ``next`` when it is one of ours."""
        target = self.request.POST.get("next") or self.request.GET.get("next") or ""
        if target and url_has_allowed_host_and_scheme(target, allowed_hosts=None):
            return target
        return default


# -- policies --------------------------------------------------------------------------------
class PolicyFormView(AlertArea):
    """Create (``createAlarmPolicy``) or edit (``updateAlarmPolicy``) an alarm policy."""

    template_name = "console/alerts/policy_form.html"
    authz_action = "createAlarmPolicy"
    authz_model = AlarmPolicy
    creating = True

    def load(self):
        if self.creating:
            if self.scope.tenant is None:
                raise ConsoleDenied(
                    "createAlarmPolicy",
                    "cluster:*/alarmpolicy:*",
                    _("choose a tenant first (the tenant switcher at the top)"),
                )
            return None
        policy = self.get_policy(self.kwargs["cluster"], self.kwargs["name"])
        self.authorize_on("updateAlarmPolicy", policy.authz_resource, policy.tenant)
        return policy

    def creatable(self) -> tuple[list[Cluster], dict[str, list[str]]]:
        """The clusters the user may create a policy in: on the cluster itself, or in one of
        its namespaces (each cluster's namespaces where they may, for the form's hints)."""
        clusters = list(self.visible_clusters().order_by("display_name", "name"))
        owned: dict[int, list[str]] = {}
        for cluster_id, namespace in ProjectNamespace.objects.filter(
            cluster__in=clusters
        ).values_list("cluster_id", "namespace"):
            owned.setdefault(cluster_id, []).append(namespace)
        offered, namespaces = [], {}
        for cluster in clusters:
            mine = sorted(
                ns
                for ns in owned.get(cluster.pk, [])
                if self.allowed(
                    "createAlarmPolicy",
                    f"cluster:{cluster.name}/namespace:{ns}/alarmpolicy:*",
                    cluster.tenant,
                )
            )
            whole = self.allowed(
                "createAlarmPolicy", f"cluster:{cluster.name}/alarmpolicy:*", cluster.tenant
            )
            if whole or mine:
                offered.append(cluster)
                namespaces[cluster.name] = mine
        return offered, namespaces

    def make_form(self, data=None):
        policy = self.object
        tenant = policy.tenant if policy is not None else self.scope.tenant
        user = self.request.user
        # What the service lets the user add (those they may read), and what the policy has.
        receivers = services.sendable(user, tenant.pk, "receivers")
        groups = services.sendable(user, tenant.pk, "receiver_groups")
        channels = services.sendable(user, tenant.pk, "notify_ways")
        templates = restrict(
            NotifyTemplate.objects.filter(channel__in=channels.values("pk")),
            user,
            "getNotifyTemplate",
        )
        clusters: list[Cluster] = []
        self.namespaces: dict[str, list[str]] = {}
        if policy is None:
            clusters, self.namespaces = self.creatable()
        initial = {}
        if policy is None and self.request.GET.get("cluster"):
            initial["cluster"] = self.request.GET["cluster"]
        return PolicyForm(
            data,
            policy=policy,
            clusters=clusters,
            receivers=receivers.order_by("name").values_list("name", flat=True),
            groups=groups.order_by("name").values_list("name", flat=True),
            ways=templates.order_by("channel__name", "name").values_list("channel__name", "name"),
            initial=initial,
        )

    def get(self, request, *args, **kwargs):
        self.object = self.load()
        return self.render_to_response(self.get_context_data(form=self.make_form()))

    def post(self, request, *args, **kwargs):
        self.object = policy = self.load()
        form = self.make_form(request.POST)
        if not form.is_valid():
            return self.invalid(form)
        fields = form.service_fields()
        metrics = fields.pop("metrics")
        try:
            if policy is None:
                # One of the clusters offered (the form's choices): visible, in the tenant.
                cluster = (
                    self.visible_clusters()
                    .select_related("tenant")
                    .get(name=form.cleaned_data["cluster"])
                )
                name = form.cleaned_data["name"].strip()
                resource = policy_path(cluster.name, fields["type"], fields["namespace"], name)
                self.authorize_on("createAlarmPolicy", resource, cluster.tenant)
                policy = services.create_policy(
                    actor=request.user,
                    tenant=cluster.tenant,
                    cluster=cluster,
                    name=name,
                    metrics=metrics,
                    **fields,
                )
                request.audit_resource = policy.authz_resource
                flash.success(request, _("Alarm policy %(name)s created.") % {"name": name})
            else:
                moved = policy_path(
                    policy.cluster.name, fields["type"], fields["namespace"], policy.name
                )
                if moved != policy.authz_resource:
                    # What is judged is what is stored: the new namespace too.
                    self.authorize_on("updateAlarmPolicy", moved, policy.tenant)
                policy = services.update_policy(
                    actor=request.user, policy=policy, metrics=metrics, **fields
                )
                flash.success(request, _("Alarm policy %(name)s saved.") % {"name": policy.name})
        except ValidationError as exc:
            return self.invalid(form, exc)
        return self.redirect(policy_url(policy))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        policy = self.object
        rows = kwargs["form"].metrics
        if not rows.forms:
            # Every row was removed (or left blank): the form comes back with one to fill.
            rows.forms.append(MetricRowForm(prefix=f"{rows.prefix}-{rows.next}"))
            rows.next += 1
        context.update(
            policy=policy,
            namespaces=sorted(
                {ns for names in getattr(self, "namespaces", {}).values() for ns in names}
            ),
            title=(_("Edit alarm policy %(name)s") % {"name": policy.name})
            if policy
            else _("New alarm policy"),
        )
        return context


class PolicyView(AlertArea):
    """One policy: its settings and conditions, its recent records and silences, and the
    actions the user may take on it."""

    template_name = "console/alerts/policy.html"
    authz_action = "getAlarmPolicy"
    authz_model = AlarmPolicy

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        policy = self.get_policy(kwargs["cluster"], kwargs["name"])
        user, tenant, resource = self.request.user, policy.tenant, policy.authz_resource
        records = restrict(AlarmRecord.objects.filter(policy=policy), user, "listAlarmRecords")
        silences = list(
            restrict(AlarmSilence.objects.filter(policy=policy), user, "listAlarmSilences")
            .select_related("created_by")
            .order_by("-ends_at", "-id")[:RECENT]
        )
        for silence in silences:
            silence.policy = policy
            mark_silence(user, silence)
        context.update(
            title=policy.name,
            policy=policy,
            records=list(records.order_by("-started_at", "-id")[:RECENT]),
            silences=silences,
            now=timezone.now(),
            may_update=self.allowed("updateAlarmPolicy", resource, tenant),
            may_delete=self.allowed("deleteAlarmPolicy", resource, tenant),
            may_copy=self.allowed("createAlarmPolicy", copy_pattern(policy), tenant),
            may_silence=self.allowed("createAlarmSilence", f"{resource}/alarmsilence:*", tenant),
        )
        return context


def copy_pattern(policy: AlarmPolicy) -> str:
    """Where a copy of ``policy`` would be created (any name)."""
    return policy_path(policy.cluster.name, policy.type, policy.namespace, "*")


def mark_silence(user, silence: AlarmSilence) -> None:
    """What ``user`` may do with the silence (for its buttons)."""
    resource, tenant = silence.authz_resource, silence.tenant_id
    # Editing and expiring are both the API's update.
    silence.may_update = bool(check(user, "updateAlarmSilence", resource, tenant))
    silence.may_expire = silence.may_update
    silence.may_delete = bool(check(user, "deleteAlarmSilence", resource, tenant))


class PolicyCopyView(AlertArea):
    """GET: asks for the copy's name; POST: ``createAlarmPolicy`` on the copy's path (the
    source's cluster, type and namespace) and copy."""

    template_name = "console/alerts/policy_copy.html"
    authz_action = "createAlarmPolicy"
    authz_model = AlarmPolicy

    def load(self):
        policy = self.get_policy(self.kwargs["cluster"], self.kwargs["name"])
        self.authorize_on("createAlarmPolicy", copy_pattern(policy), policy.tenant)
        return policy

    def get(self, request, *args, **kwargs):
        self.object = policy = self.load()
        form = CopyForm(initial={"name": f"{policy.name}-copy"})
        return self.render_to_response(self.get_context_data(form=form))

    def post(self, request, *args, **kwargs):
        self.object = source = self.load()
        form = CopyForm(request.POST)
        if not form.is_valid():
            return self.invalid(form)
        name = form.cleaned_data["name"].strip()
        resource = policy_path(source.cluster.name, source.type, source.namespace, name)
        request.audit_resource = resource
        self.authorize_on("createAlarmPolicy", resource, source.tenant)
        try:
            copied = services.copy_policy(actor=request.user, policy=source, name=name)
        except ValidationError as exc:
            return self.invalid(form, exc)
        flash.success(
            request,
            _("Alarm policy %(source)s copied to %(name)s.")
            % {"source": source.name, "name": name},
        )
        return self.redirect(policy_url(copied))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            policy=self.object, title=_("Copy alarm policy %(name)s") % {"name": self.object.name}
        )
        return context


class PolicyDeleteView(AlertArea):
    """GET: the confirmation page; POST: ``deleteAlarmPolicy`` and delete (with its
    conditions, records and silences)."""

    template_name = "console/alerts/confirm_delete.html"
    authz_action = "deleteAlarmPolicy"
    authz_model = AlarmPolicy

    def load(self) -> list[AlarmPolicy]:
        policy = self.get_policy(self.kwargs["cluster"], self.kwargs["name"])
        self.authorize_on("deleteAlarmPolicy", policy.authz_resource, policy.tenant)
        return [policy]

    def get(self, request, *args, **kwargs):
        policies = self.load()
        return self.render_to_response(self.get_context_data(policies=policies))

    def post(self, request, *args, **kwargs):
        policies = self.load()
        names = services.delete_policies(actor=request.user, policies=policies)
        flash.success(request, _("Deleted: %(names)s.") % {"names": ", ".join(names)})
        return self.redirect(reverse("console:alarm-policies"))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        policies = kwargs["policies"]
        context.update(
            title=gettext_lazy("Delete alarm policies?")
            if len(policies) > 1
            else _("Delete alarm policy %(name)s?") % {"name": policies[0].name},
            back=reverse("console:alarm-policies")
            if len(policies) > 1
            else policy_url(policies[0]),
        )
        return context


class PolicyBatchDeleteView(PolicyDeleteView):
    """The policies ticked in the list (``policy=<cluster>/<name>``, repeated), all or none:
    one the user may not see is 404, one they may see but not delete 403."""

    def load(self) -> list[AlarmPolicy]:
        data = self.request.POST if self.request.method == "POST" else self.request.GET
        keys = list(dict.fromkeys(data.getlist("policy")))
        if not keys:
            raise Http404(_("No alarm policy chosen."))
        policies = []
        for key in keys:
            cluster, _sep, name = key.partition("/")
            policies.append(self.get_policy(cluster, name))
        # One audit row names them all; each is judged on its own path.
        self.request.audit_action = "deleteAlarmPolicy"
        self.request.audit_resource = ",".join(p.authz_resource for p in policies)[:1000]
        for policy in policies:
            self.authorize_on("deleteAlarmPolicy", policy.authz_resource, policy.tenant)
        return policies


# -- silences --------------------------------------------------------------------------------
class SilenceFormView(AlertArea):
    """Create a silence of a policy (``createAlarmSilence`` on ``<policy>/alarmsilence:*``)."""

    template_name = "console/alerts/silence_form.html"
    authz_action = "createAlarmSilence"
    authz_model = AlarmSilence

    def load(self) -> AlarmPolicy:
        policy = self.get_policy(self.kwargs["cluster"], self.kwargs["name"])
        resource = f"{policy.authz_resource}/alarmsilence:*"
        self.authorize_on("createAlarmSilence", resource, policy.tenant)
        return policy

    def get(self, request, *args, **kwargs):
        self.object = policy = self.load()
        initial = {
            "object_key": request.GET.get("object", ""),
            "metric": request.GET.get("metric", ""),
            "starts_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        }
        form = SilenceForm(initial=initial, policy=policy)
        return self.render_to_response(self.get_context_data(form=form))

    def post(self, request, *args, **kwargs):
        self.object = policy = self.load()
        form = SilenceForm(request.POST, policy=policy)
        if not form.is_valid():
            return self.invalid(form)
        try:
            silence = services.create_silence(
                actor=request.user, policy=policy, **form.service_fields()
            )
        except ValidationError as exc:
            return self.invalid(form, exc)
        request.audit_resource = silence.authz_resource
        flash.success(
            request,
            _("Notices of %(name)s are silenced until %(end)s.")
            % {
                "name": policy.name,
                "end": timezone.localtime(silence.ends_at).strftime("%Y-%m-%d %H:%M"),
            },
        )
        return self.redirect(policy_url(policy))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        policy = self.object
        context.update(
            policy=policy,
            object_keys=recorded_objects(policy),
            title=_("Silence alarm policy %(name)s") % {"name": policy.name},
        )
        return context


def recorded_objects(policy: AlarmPolicy) -> list[str]:
    """The objects the policy has records of (the silence form's suggestions)."""
    return list(
        AlarmRecord.objects.filter(policy=policy)
        .exclude(object_key="")
        .order_by("object_key")
        .values_list("object_key", flat=True)
        .distinct()[:200]
    )


class SilenceEditView(AlertArea):
    """Change a silence that has not ended — what it covers, its start, end and comment —
    with ``updateAlarmSilence`` on the silence (the API's update). An ended silence is history
    and is not changed: the page says so (409)."""

    template_name = "console/alerts/silence_form.html"
    authz_action = "updateAlarmSilence"
    authz_model = AlarmSilence

    def load(self) -> AlarmSilence:
        return self.silence_for("updateAlarmSilence", self.kwargs["pk"])

    def ended(self, silence: AlarmSilence):
        """The page without its form when the silence has ended, else None."""
        if silence.ends_at > timezone.now():
            return None
        self.note_failure(_("The silence has ended; an ended silence is not changed."))
        return self.render_to_response(self.get_context_data(form=None), status=409)

    def get(self, request, *args, **kwargs):
        self.object = silence = self.load()
        refused = self.ended(silence)
        if refused is not None:
            return refused
        return self.render_to_response(self.get_context_data(form=SilenceEditForm(silence=silence)))

    def post(self, request, *args, **kwargs):
        self.object = silence = self.load()
        refused = self.ended(silence)
        if refused is not None:
            return refused
        form = SilenceEditForm(request.POST, silence=silence)
        if not form.is_valid():
            return self.invalid(form)
        try:
            services.update_silence(actor=request.user, silence=silence, **form.service_fields())
        except ValidationError as exc:
            return self.invalid(form, exc)
        flash.success(
            request,
            _("The silence of %(name)s now ends at %(end)s.")
            % {
                "name": silence.policy.name,
                "end": timezone.localtime(silence.ends_at).strftime("%Y-%m-%d %H:%M"),
            },
        )
        return self.redirect(self.back(policy_url(silence.policy)))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        silence = self.object
        policy = silence.policy
        context.update(
            policy=policy,
            silence=silence,
            object_keys=recorded_objects(policy),
            back=self.back(policy_url(policy)),
            title=_("Edit the silence of %(name)s") % {"name": policy.name},
        )
        return context


class SilenceExpireView(AlertArea):
    """POST: end a silence now (``updateAlarmSilence``, the API's ``expire``)."""

    http_method_names = ["post"]
    authz_action = "updateAlarmSilence"
    authz_model = AlarmSilence

    def post(self, request, pk: int):
        silence = self.silence_for("updateAlarmSilence", pk)
        services.expire_silence(actor=request.user, silence=silence)
        flash.success(
            request, _("The silence of %(name)s has ended.") % {"name": silence.policy.name}
        )
        return self.redirect(self.back(reverse("console:alarm-silences")))


class SilenceDeleteView(AlertArea):
    """GET: the confirmation page; POST: ``deleteAlarmSilence`` and delete."""

    template_name = "console/alerts/confirm_delete.html"
    authz_action = "deleteAlarmSilence"
    authz_model = AlarmSilence

    def load(self) -> AlarmSilence:
        return self.silence_for("deleteAlarmSilence", self.kwargs["pk"])

    def get(self, request, *args, **kwargs):
        return self.render_to_response(self.get_context_data(silence=self.load()))

    def post(self, request, *args, **kwargs):
        silence = self.load()
        services.delete_silence(actor=request.user, silence=silence)
        flash.success(request, _("Silence deleted."))
        return self.redirect(self.back(reverse("console:alarm-silences")))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        silence = kwargs["silence"]
        context.update(
            title=_("Delete this silence of %(name)s?") % {"name": silence.policy.name},
            back=self.back(reverse("console:alarm-silences")),
        )
        return context
