"""/api/v1/ routes of apps.notify."""

urlpatterns: list = []
