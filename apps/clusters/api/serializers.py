from rest_framework import serializers

from apps.core.api.serializers import TenantSlugField

from .. import visibility
from ..models import Cluster, ClusterOperation, Node


class ClusterSerializer(serializers.ModelSerializer):
    """A cluster as the API shows it. The credential is never part of it."""

    tenant = TenantSlugField()
    credential = serializers.SerializerMethodField(
        help_text="Only the kind of credential; secrets are never returned."
    )

    class Meta:
        model = Cluster
        fields = [
            "name",
            "tenant",
            "display_name",
            "type",
            "server",
            "phase",
            "conditions",
            "message",
            "version",
            "node_count",
            "architectures",
            "gpu_summary",
            "capacity",
            "allocatable",
            "labels",
            "credential",
            "last_probe_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [f for f in fields if f not in ("display_name", "labels")]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is not None and not visibility.sees_nodes(request.user, instance):
            # Nodes are the platform's: a project member sees the cluster, not its nodes.
            data.update(dict.fromkeys(visibility.NODE_FIELDS))
        return data

    def get_credential(self, obj) -> dict:
        cred = getattr(obj, "credential", None)
        if cred is None:
            return {}
        return {
            "kind": cred.kind,
            "insecure_skip_tls_verify": cred.insecure_skip_tls_verify,
            "rotated_at": cred.rotated_at,
        }


class CredentialInputSerializer(serializers.Serializer):
    """A kubeconfig (and optional context), or server + CA + token / client certificate."""

    kubeconfig = serializers.CharField(
        required=False, allow_blank=True, write_only=True, style={"base_template": "textarea.html"}
    )
    context = serializers.CharField(required=False, allow_blank=True)
    server = serializers.CharField(required=False, allow_blank=True)
    ca_data = serializers.CharField(
        required=False, allow_blank=True, write_only=True, help_text="PEM of the cluster CA"
    )
    token = serializers.CharField(required=False, allow_blank=True, write_only=True)
    client_cert = serializers.CharField(required=False, allow_blank=True, write_only=True)
    client_key = serializers.CharField(required=False, allow_blank=True, write_only=True)
    insecure_skip_tls_verify = serializers.BooleanField(required=False, default=False)

    def to_spec(self):
        from ..k8s import Connection
        from ..services import spec_from_kubeconfig

        data = self.validated_data
        if data.get("kubeconfig"):
            return spec_from_kubeconfig(data["kubeconfig"], data.get("context") or None)
        return Connection(
            server=data.get("server", ""),
            token=data.get("token", ""),
            ca_data=data.get("ca_data", ""),
            client_cert=data.get("client_cert", ""),
            client_key=data.get("client_key", ""),
            insecure=data.get("insecure_skip_tls_verify", False),
        )

    def validate_token(self, value):
        if value and not all(33 <= ord(ch) < 127 for ch in value):
            raise serializers.ValidationError("The token must be visible ASCII characters only.")
        return value

    def validate(self, attrs):
        if not attrs.get("kubeconfig") and not attrs.get("server"):
            raise serializers.ValidationError({"server": "Give a kubeconfig or a server URL."})
        return attrs


class ClusterImportSerializer(CredentialInputSerializer):
    display_name = serializers.CharField(max_length=128)
    labels = serializers.DictField(child=serializers.CharField(), required=False)


class ClusterOperationSerializer(serializers.ModelSerializer):
    class Meta:
        model = ClusterOperation
        fields = ["id", "kind", "phase", "steps", "attempts", "message", "created_at", "updated_at"]
        read_only_fields = fields


class NodeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Node
        fields = [
            "name",
            "architecture",
            "os_image",
            "kubelet_version",
            "ready",
            "unschedulable",
            "gpus",
            "capacity",
            "allocatable",
            "labels",
            "synced_at",
        ]
        read_only_fields = fields
