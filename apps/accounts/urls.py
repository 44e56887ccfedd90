"""Console URLs of accounts: sign-in (password and single sign-on) and sign-out."""

from django.urls import path

from .views import PortalLoginView, PortalLogoutView

urlpatterns = [
    path("login/", PortalLoginView.as_view(), name="login"),
    path("logout/", PortalLogoutView.as_view(), name="logout"),
]
