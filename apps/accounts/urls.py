"""Console URLs of accounts: sign-in (password and single sign-on), sign-out,
re-authentication before sensitive actions, and changing your password."""

from django.urls import path

from .identity.oidc.views import OIDCCallbackView, OIDCStartView
from .views import PasswordChangeView, PortalLoginView, PortalLogoutView, ReauthView

urlpatterns = [
    path("login/", PortalLoginView.as_view(), name="login"),
    path("logout/", PortalLogoutView.as_view(), name="logout"),
    path("reauth/", ReauthView.as_view(), name="reauth"),
    path("account/password/", PasswordChangeView.as_view(), name="password-change"),
    # The callback is the one redirect URI registered at every OpenID provider.
    path("login/oidc/callback/", OIDCCallbackView.as_view(), name="oidc-callback"),
    path("login/oidc/<slug:tenant>/<slug:provider>/", OIDCStartView.as_view(), name="oidc-start"),
]
