from django import forms
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm

from .models import User


class PortalUserCreationForm(UserCreationForm):
    """Admin "add user" form: usernames are unique per tenant, not globally, and the error
    never reveals names in other tenants."""

    # Set by the admin for tenant administrators, whose tenant is not a form field.
    fixed_tenant = None

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("tenant", "username")

    def clean_username(self):
        return self.cleaned_data.get("username")

    def clean(self):
        cleaned = super().clean()
        tenant = self.fixed_tenant or cleaned.get("tenant")
        username = cleaned.get("username")
        if username and User.objects.filter(tenant=tenant, username=username).exists():
            self.add_error("username", forms.ValidationError("This username is taken."))
        if tenant is not None:
            self.instance.tenant = tenant
        return cleaned


class PortalAuthenticationForm(AuthenticationForm):
    """Console sign-in: tenant, username, password. The tenant may also be typed into the
    username (``acme/bob``), and is left out by platform administrators. Local and LDAP
    accounts both sign in here; the backends decide which one checks the password."""

    tenant = forms.CharField(max_length=32, required=False)

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Wrong tenant/username or password, or the account is disabled.",
    }

    field_order = ["tenant", "username", "password"]

    def qualified_username(self) -> str:
        """``tenant/username`` as the backends expect it (the typed name when it already
        names a tenant, or when no tenant was given)."""
        username = (self.cleaned_data.get("username") or "").strip()
        tenant = (self.cleaned_data.get("tenant") or "").strip().lower()
        if tenant and username and "/" not in username:
            return f"{tenant}/{username}"
        return username

    def get_invalid_login_error(self):
        # A backend that must tell the person why (a directory account that would take over
        # a local one) leaves the message on the request; otherwise the generic error, which
        # does not reveal which usernames exist.
        message = getattr(self.request, "portal_sign_in_error", "")
        if message:
            return forms.ValidationError(message, code="refused")
        return super().get_invalid_login_error()

    def clean(self):
        from apps.core.middleware import client_ip

        from . import throttle

        username = self.qualified_username()
        if username:
            self.cleaned_data["username"] = username
        ip = client_ip(self.request)
        if username and throttle.locked(username, ip):
            # Refused without asking the backends, so counted here: an attempt at a locked
            # account restarts its window like any other failure.
            throttle.record_failure(username, ip)
            raise forms.ValidationError(
                "Too many failed sign-ins for this account; try again in "
                f"{throttle.lockout_minutes()} minutes.",
                code="locked",
            )
        return super().clean()
