"""/api/v1/ routes of apps.monitoring."""

urlpatterns: list = []
