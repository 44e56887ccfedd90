"""Routes filled in by the projects API."""

urlpatterns: list = []
