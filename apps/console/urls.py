"""The console's pages (server-rendered, HTMX for partial updates), at the site root.

Each area's routes live in ``apps/console/routes/<area>.py``."""

from django.urls import path

from .routes import modules
from .views import pages

app_name = "console"

urlpatterns = [
    path("", pages.OverviewView.as_view(), name="overview"),
    path("why/", pages.WhyView.as_view(), name="why"),
    path("tenant/", pages.switch_tenant, name="tenant-switch"),
]
for _module in modules():
    urlpatterns += _module.urlpatterns
