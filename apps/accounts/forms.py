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
    """Console sign-in: says so when the name is locked after too many failures."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Wrong tenant/username or password, or the account is disabled.",
    }

    def clean(self):
        from apps.core.middleware import client_ip

        from . import throttle

        username = self.cleaned_data.get("username", "")
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
