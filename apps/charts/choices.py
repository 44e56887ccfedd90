from django.db import models


class ChartVisibility(models.TextChoices):
    """Who may read a chart group (its index, archives and versions).

    public: anyone, anonymous Helm clients too; user: its owner, and whom policy allows;
    project: the project's members (judged in the project's domain), and whom policy allows.
    Writes (upload, delete) always need policy (``pushChart`` / ``deleteChartVersion``)."""

    PUBLIC = "public", "Public"
    USER = "user", "User"
    PROJECT = "project", "Project"


class ReleaseStatus(models.TextChoices):
    """A release's state (Helm's release status names)."""

    PENDING_INSTALL = "pending-install", "Pending install"
    PENDING_UPGRADE = "pending-upgrade", "Pending upgrade"
    PENDING_ROLLBACK = "pending-rollback", "Pending rollback"
    DEPLOYED = "deployed", "Deployed"
    FAILED = "failed", "Failed"
    UNINSTALLING = "uninstalling", "Uninstalling"
    UNINSTALLED = "uninstalled", "Uninstalled"


class RevisionStatus(models.TextChoices):
    """One revision of a release (Helm's names): the live one is deployed, earlier ones are
    superseded, one that did not apply is failed."""

    DEPLOYED = "deployed", "Deployed"
    SUPERSEDED = "superseded", "Superseded"
    FAILED = "failed", "Failed"
