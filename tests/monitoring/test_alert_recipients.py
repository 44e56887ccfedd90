"""A policy's writer may add only the receivers, receiver groups and channels they may read
(issue 15): a project member with monitor rights in their project makes pod policies on their
own pods, but may not have them page the tenant's receivers or send through its channels
unless an administrator lets them read those. Names the policy already has stay (an edit of
the threshold is not refused), a copy adds all of them; a missing name and a forbidden one get
the same answer, naming the field — through the API, the console forms and the Alertmanager
webhook's defaults."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.authz import services as authz
from apps.monitoring.alerts import services
from apps.monitoring.alerts.models import AlarmPolicy, AlertmanagerWebhook
from apps.projects.models import Project, ProjectCluster, ProjectNamespace
from tests.conftest import PROJECT
from tests.console.test_alert_forms import _error, _page
from tests.factories import UserFactory, bind
from tests.monitoring.alerting import monitored_cluster, pod_policy, recipients

pytestmark = pytest.mark.django_db

METRICS = [{"metric": "k8s_pod_cpu_core_used", "evaluator": "gt", "threshold": 1}]
SENDS = {
    "receivers": ["ops"],
    "receiver_groups": ["oncall"],
    "notify_ways": [{"channel": "sms", "template": "alarm"}],
}


def refusal(name: str) -> str:
    return f"Nothing named {name} that you may send to."


@pytest.fixture
def cluster(tenant):
    """A cluster whose namespace ``web`` is the project's; the tenant's receiver ``ops``,
    group ``oncall`` and channel ``sms`` (template ``alarm``), which an administrator made."""
    cluster = monitored_cluster(tenant, display_name="prod")
    project = Project.objects.create(tenant=tenant, name=PROJECT, display_name="Test")
    ProjectCluster.objects.create(project=project, cluster=cluster, hard={})
    ProjectNamespace.objects.create(
        tenant=tenant, project=project, cluster=cluster, namespace="web"
    )
    recipients(tenant, receivers=["ops"], groups=["oncall"], channels=["sms"])
    return cluster


def policies_url(cluster) -> str:
    return f"/api/v1/clusters/{cluster.name}/alarm-policies/"


def mine(**fields) -> dict:
    return {"name": "web-cpu", "type": "pod", "namespace": "web", "metrics": METRICS, **fields}


def grant(tenant, user, action: str, resource: str) -> None:
    """What an administrator does: a custom policy, bound to the user."""
    policy = authz.create_policy(
        actor=None,
        tenant=tenant,
        name=f"{user.username}-{action.lower()}",
        statements=[{"actions": [action], "resources": [resource], "effect": "allow"}],
    )
    authz.create_binding(actor=None, tenant=tenant, user=user, policy=policy)


# -- API ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("field", list(SENDS))
def test_a_member_may_not_name_what_they_cannot_read(api, project_member, cluster, field):
    client = api(project_member)
    assert client.post(policies_url(cluster), mine(name="bare")).status_code == 201
    response = client.post(policies_url(cluster), mine(**{field: SENDS[field]}))
    assert response.status_code == 400, response.content
    name = "sms" if field == "notify_ways" else SENDS[field][0]
    assert response.json()["fields"] == {field: [refusal(name)]}
    assert list(AlarmPolicy.objects.values_list("name", flat=True)) == ["bare"]


def test_an_unknown_name_gets_the_answer_of_a_forbidden_one(api, project_member, cluster):
    client = api(project_member)
    forbidden = client.post(policies_url(cluster), mine(receivers=["ops"])).json()
    unknown = client.post(policies_url(cluster), mine(receivers=["nobody"])).json()
    assert forbidden["fields"]["receivers"] == [refusal("ops")]
    assert unknown["fields"]["receivers"] == [refusal("nobody")]
    assert unknown["detail"].replace("nobody", "ops") == forbidden["detail"]
    assert not AlarmPolicy.objects.exists()


def test_a_member_granted_a_receiver_may_name_it(api, tenant, project_member, cluster):
    grant(tenant, project_member, "getReceiver", "receiver:ops")
    client = api(project_member)
    response = client.post(policies_url(cluster), mine(receivers=["ops"]))
    assert response.status_code == 201, response.content
    assert AlarmPolicy.objects.get(name="web-cpu").receivers == ["ops"]
    # the grant is for that receiver only
    group = client.post(policies_url(cluster), mine(name="b", receiver_groups=["oncall"]))
    assert group.json()["fields"] == {"receiver_groups": [refusal("oncall")]}


def test_a_way_names_a_template_that_exists_and_the_writer_may_read(
    api, tenant, tenant_admin, project_member, cluster
):
    """A message through a channel is one of its templates: the channel alone is not enough,
    and a template that does not exist is refused when the policy is written, not when its
    first notice fails."""
    grant(tenant, project_member, "getNotifyChannel", "notifychannel:sms")
    client = api(project_member)
    way = {"notify_ways": [{"channel": "sms", "template": "alarm"}]}
    refused = client.post(policies_url(cluster), mine(**way), format="json")
    assert refused.json()["fields"] == {"notify_ways": [refusal("sms/alarm")]}
    grant(tenant, project_member, "getNotifyTemplate", "notifychannel:sms/notifytemplate:alarm")
    allowed = client.post(policies_url(cluster), mine(**way), format="json")
    assert allowed.status_code == 201, allowed.content
    assert AlarmPolicy.objects.get(name="web-cpu").notify_ways == way["notify_ways"]
    missing = api(tenant_admin).post(
        policies_url(cluster),
        mine(name="b", notify_ways=[{"channel": "sms", "template": "nope"}]),
        format="json",
    )
    assert missing.json()["fields"] == {"notify_ways": [refusal("sms/nope")]}
    assert not AlarmPolicy.objects.filter(name="b").exists()


def test_a_member_edits_the_threshold_of_a_policy_an_administrator_routed(
    api, tenant_admin, project_member, cluster
):
    pod_policy(tenant_admin, cluster, name="routed", **SENDS)
    client = api(project_member)
    url = f"{policies_url(cluster)}routed/"
    changed = [{**METRICS[0], "threshold": 2}]
    response = client.patch(url, {"metrics": changed, **SENDS})
    assert response.status_code == 200, response.content
    policy = AlarmPolicy.objects.get(name="routed")
    assert policy.metrics.get().threshold == 2
    assert (policy.receivers, policy.receiver_groups) == (["ops"], ["oncall"])
    # dropping a name is allowed; adding one back is adding it
    assert client.patch(url, {"receivers": []}).status_code == 200
    again = client.patch(url, {"receivers": ["ops"]})
    assert again.json()["fields"] == {"receivers": [refusal("ops")]}
    assert AlarmPolicy.objects.get(name="routed").receivers == []


def test_a_member_may_not_copy_an_administrators_routing(
    api, tenant_admin, project_member, cluster
):
    pod_policy(tenant_admin, cluster, name="routed", **SENDS)
    response = api(project_member).post(
        f"{policies_url(cluster)}routed/copy/", {"name": "mine"}, format="json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["fields"] == {
        "receivers": [refusal("ops")],
        "receiver_groups": [refusal("oncall")],
        "notify_ways": [refusal("sms")],
    }
    assert "receivers: Nothing named ops" in response.json()["detail"]
    assert not AlarmPolicy.objects.filter(name="mine").exists()
    # the administrator may
    copied = api(tenant_admin).post(f"{policies_url(cluster)}routed/copy/", {"name": "theirs"})
    assert copied.status_code == 201 and copied.json()["receivers"] == ["ops"]


def test_another_tenants_receiver_is_unknown(api, tenant_admin, other_tenant, cluster):
    recipients(other_tenant, receivers=["theirs"], groups=(), channels=())
    response = api(tenant_admin).post(
        policies_url(cluster), mine(receivers=["ops", "theirs"]), format="json"
    )
    assert response.json()["fields"] == {"receivers": [refusal("theirs")]}
    assert not AlarmPolicy.objects.exists()


def test_webhook_defaults_follow_the_same_rule(api, tenant, tenant_admin, cluster):
    """A cluster's Alertmanager webhook sends alerts naming no policy to its defaults: a
    writer of the cluster (``updateCluster``) who may not read a receiver may not add it."""
    services.rotate_webhook_token(actor=tenant_admin, cluster=cluster)
    url = f"/api/v1/clusters/{cluster.name}/alertmanager-webhook/"
    operator = UserFactory(tenant=tenant, username="cora")
    bind(operator, "clusters-full")
    refused = api(operator).patch(url, {"receivers": ["ops"]}, format="json")
    assert refused.json()["fields"] == {"receivers": [refusal("ops")]}
    admin = api(tenant_admin)
    unknown = admin.patch(url, {"receivers": ["ops", "nobody"]}, format="json")
    assert unknown.json()["fields"] == {"receivers": [refusal("nobody")]}
    assert admin.patch(url, {"receivers": ["ops"]}, format="json").status_code == 200
    # what the administrator chose stays when the operator changes something else
    kept = api(operator).patch(url, {"repeat_interval": 600}, format="json")
    assert kept.status_code == 200 and kept.json()["receivers"] == ["ops"]


def test_only_a_tenant_administrator_lets_alerts_choose_their_receivers(
    api, tenant, tenant_admin, cluster
):
    """With ``annotation_routing`` an alert's annotations name its receivers: whoever writes
    the cluster's alerting rules could page anyone in the tenant. A writer of the cluster
    may turn it off, not on."""
    services.rotate_webhook_token(actor=tenant_admin, cluster=cluster)
    url = f"/api/v1/clusters/{cluster.name}/alertmanager-webhook/"
    operator = UserFactory(tenant=tenant, username="cora")
    bind(operator, "clusters-full")
    refused = api(operator).patch(url, {"annotation_routing": True}, format="json")
    assert refused.status_code == 400
    assert list(refused.json()["fields"]) == ["annotation_routing"]
    assert "tenant administrator" in refused.json()["fields"]["annotation_routing"][0]
    assert AlertmanagerWebhook.objects.get(cluster=cluster).annotation_routing is False
    turned_on = api(tenant_admin).patch(url, {"annotation_routing": True}, format="json")
    assert turned_on.status_code == 200 and turned_on.json()["annotation_routing"] is True
    # left on when the operator changes something else; the operator may turn it off
    kept = api(operator).patch(url, {"repeat_interval": 600, "annotation_routing": True})
    assert kept.status_code == 200, kept.content
    assert AlertmanagerWebhook.objects.get(cluster=cluster).annotation_routing is True
    off = api(operator).patch(url, {"annotation_routing": False}, format="json")
    assert off.status_code == 200 and off.json()["annotation_routing"] is False
    assert AlertmanagerWebhook.objects.get(cluster=cluster).annotation_routing is False


def test_annotation_routing_set_on_the_instance_before_the_update_is_judged(
    tenant, tenant_admin, cluster
):
    """The admin's form sets the field on the instance before it calls the service: whether
    it was on is what the database holds."""
    webhook, _token = services.rotate_webhook_token(actor=tenant_admin, cluster=cluster)
    operator = UserFactory(tenant=tenant, username="cora")
    bind(operator, "clusters-full")
    webhook.annotation_routing = True
    with pytest.raises(ValidationError) as refused:
        services.update_webhook(actor=operator, webhook=webhook, annotation_routing=True)
    assert list(refused.value.message_dict) == ["annotation_routing"]
    assert AlertmanagerWebhook.objects.get(cluster=cluster).annotation_routing is False


# -- the service -------------------------------------------------------------------------------
def test_the_system_and_the_platform_administrator_name_what_exists(
    tenant, platform_admin, cluster
):
    for actor, name in ((None, "by-system"), (platform_admin, "by-operator")):
        policy = pod_policy(actor, cluster, name=name, **SENDS)
        assert policy.receiver_groups == ["oncall"]
        with pytest.raises(ValidationError) as refused:
            pod_policy(actor, cluster, name=f"{name}-2", receivers=["nobody"])
        assert refused.value.message_dict == {"receivers": [refusal("nobody")]}


def test_names_set_on_the_instance_before_the_update_are_added(project_member, cluster):
    """The admin's form sets the fields on the instance before it calls the service: what the
    policy already had is what the database holds."""
    policy = pod_policy(project_member, cluster, name="mine", receivers=[], notify_ways=[])
    policy.receivers = ["ops"]
    with pytest.raises(ValidationError) as refused:
        services.update_policy(actor=project_member, policy=policy, receivers=["ops"])
    assert refused.value.message_dict == {"receivers": [refusal("ops")]}
    assert AlarmPolicy.objects.get(name="mine").receivers == []


def test_one_query_per_kind_whatever_the_number_of_names(tenant, project_member, cluster):
    recipients(tenant, receivers=[f"r{i}" for i in range(8)], groups=(), channels=())
    policy = AlarmPolicy(tenant=tenant, cluster=cluster, receivers=["ops"], notify_ways=[])
    with pytest.raises(ValidationError):
        services.check_recipients(project_member, policy, before={})  # rules compiled
    counts = []
    for names in (["ops"], [f"r{i}" for i in range(8)]):
        policy.receivers = names
        with CaptureQueriesContext(connection) as queries:
            with pytest.raises(ValidationError):
                services.check_recipients(project_member, policy, before={})
        counts.append(len(queries))
    assert counts == [1, 1]


# -- the console -------------------------------------------------------------------------------
def console_form(cluster, **fields) -> dict:
    data = {
        "cluster": cluster.name,
        "name": "web-cpu",
        "type": "pod",
        "namespace": "web",
        "workload_kind": "",
        "objects_type": "all",
        "object_names": "",
        "statistics_period": "60",
        "metrics-0-origin": "",
        "metrics-0-metric": "k8s_pod_cpu_core_used",
        "metrics-0-evaluator": "gt",
        "metrics-0-threshold": "1",
        "metrics-0-continue_periods": "1",
        "repeat_interval": "3600",
        "enabled": "on",
    }
    return {**data, **fields}


def test_the_console_form_offers_only_what_the_user_may_read(
    client, tenant, project_member, cluster
):
    client.force_login(project_member)
    form = _page(client.get("/alarms/policies/new/"))
    assert f'value="{cluster.name}"' in form and "No receiver you may send to." in form
    assert 'value="ops"' not in form and 'value="oncall"' not in form
    assert 'value="sms:alarm"' not in form
    grant(tenant, project_member, "getReceiver", "receiver:ops")
    # a channel's template alone is not the channel
    grant(tenant, project_member, "getNotifyTemplate", "notifychannel:sms/notifytemplate:*")
    form = _page(client.get("/alarms/policies/new/"))
    assert 'value="ops"' in form and 'value="oncall"' not in form
    assert 'value="sms:alarm"' not in form
    grant(tenant, project_member, "getNotifyChannel", "notifychannel:sms")
    assert 'value="sms:alarm"' in _page(client.get("/alarms/policies/new/"))


def test_the_console_refuses_a_members_recipients_beside_the_field(client, project_member, cluster):
    client.force_login(project_member)
    data = console_form(cluster, receivers=["ops"], notify_ways=["sms:alarm"])
    response = client.post("/alarms/policies/new/", data)
    assert response.status_code == 400
    page = _page(response)
    assert refusal("ops") in _error(page, "id_receivers")
    assert refusal("sms") in _error(page, "id_notify_ways")
    assert not AlarmPolicy.objects.exists()
    assert client.post("/alarms/policies/new/", console_form(cluster)).status_code == 303


def test_the_console_edit_keeps_an_administrators_routing(
    client, tenant_admin, project_member, cluster
):
    pod_policy(tenant_admin, cluster, name="routed", **SENDS)
    client.force_login(project_member)
    url = f"/alarms/policies/{cluster.name}/routed/edit/"
    form = _page(client.get(url))
    # the policy's names are shown (checked) though the member may not read them
    assert 'value="ops"' in form and 'value="oncall"' in form and 'value="sms:alarm"' in form
    data = console_form(cluster, **{"metrics-0-threshold": "0.8"})
    data.update(receivers=["ops"], receiver_groups=["oncall"], notify_ways=["sms:alarm"])
    del data["cluster"], data["name"]
    response = client.post(url, data)
    assert response.status_code == 303, _page(response)[:3000]
    policy = AlarmPolicy.objects.get(name="routed")
    assert policy.metrics.get().threshold == 0.8 and policy.receivers == ["ops"]


def test_the_console_copy_shows_the_recipients_it_may_not_add(
    client, tenant_admin, project_member, cluster
):
    pod_policy(tenant_admin, cluster, name="routed", **SENDS)
    client.force_login(project_member)
    response = client.post(f"/alarms/policies/{cluster.name}/routed/copy/", {"name": "mine"})
    assert response.status_code == 400
    errors = _page(response).split('id="form-errors"')[1].split("</div></div>")[0]
    assert f"Receivers: {refusal('ops')}" in errors
    assert f"Receiver groups: {refusal('oncall')}" in errors
    assert refusal("sms") in errors
    assert 'value="mine"' in _page(response)
    assert not AlarmPolicy.objects.filter(name="mine").exists()
