"""Console URLs of accounts: sign-in (password and single sign-on) and sign-out."""

from django.urls import path

from .identity.oidc.views import OIDCCallbackView, OIDCStartView
from .views import PortalLoginView, PortalLogoutView

urlpatterns = [
    path("login/", PortalLoginView.as_view(), name="login"),
    path("logout/", PortalLogoutView.as_view(), name="logout"),
    # The callback is the one redirect URI registered at every OpenID provider.
    path("login/oidc/callback/", OIDCCallbackView.as_view(), name="oidc-callback"),
    path("login/oidc/<slug:tenant>/<slug:provider>/", OIDCStartView.as_view(), name="oidc-start"),
]
