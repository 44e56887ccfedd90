"""TKE Portal: a multi-tenant, multi-cluster Kubernetes management portal."""

from .celery import app as celery_app

__all__ = ["celery_app"]
