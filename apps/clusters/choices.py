from django.db import models


class ClusterPhase(models.TextChoices):
    INITIALIZING = "Initializing", "Initializing"
    RUNNING = "Running", "Running"
    FAILED = "Failed", "Failed"
    TERMINATING = "Terminating", "Terminating"


class ClusterType(models.TextChoices):
    IMPORTED = "Imported", "Imported"


class ConditionStatus(models.TextChoices):
    TRUE = "True", "True"
    FALSE = "False", "False"
    UNKNOWN = "Unknown", "Unknown"


class OperationKind(models.TextChoices):
    IMPORT = "import", "Import"
    HEALTH_CHECK = "health-check", "Health check"
    SYNC = "sync", "Node and version sync"
    ROTATE_CREDENTIAL = "rotate-credential", "Credential rotation"
    # Project namespaces (apps/projects/namespaces.py); ``ClusterOperation.target`` names one.
    NAMESPACE_CREATE = "namespace-create", "Project namespace creation"
    NAMESPACE_IMPORT = "namespace-import", "Project namespace import"
    NAMESPACE_QUOTA = "namespace-quota", "Project namespace quota update"
    NAMESPACE_MOVE = "namespace-move", "Project namespace move"
    NAMESPACE_DELETE = "namespace-delete", "Project namespace deletion"
    NAMESPACE_RECONCILE = "namespace-reconcile", "Project namespace drift repair"


class OperationPhase(models.TextChoices):
    PENDING = "Pending", "Pending"
    RUNNING = "Running", "Running"
    SUCCEEDED = "Succeeded", "Succeeded"
    FAILED = "Failed", "Failed"
