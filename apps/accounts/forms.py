from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm

from . import lockout
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


def lock_error(request, typed_username: str) -> forms.ValidationError | None:
    """After a failed password check: the error saying the account (or the client address)
    is now locked, and for how long, if it is (see :mod:`apps.accounts.lockout`)."""
    lock = lockout.status(request, typed_username) if typed_username else None
    return forms.ValidationError(lock.message, code="locked") if lock else None


class LockoutAwareMixin:
    """For Django's sign-in forms: a lock is reported as such, not as a wrong password."""

    def clean(self):
        try:
            return super().clean()
        except forms.ValidationError:
            error = lock_error(self.request, self.cleaned_data.get("username") or "")
            if error is not None:
                raise error from None
            raise


class PortalAuthenticationForm(LockoutAwareMixin, AuthenticationForm):
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
        """``tenant/username`` as the backends (and the lockout) expect it."""
        return lockout.qualify(self.cleaned_data.get("tenant"), self.cleaned_data.get("username"))

    def get_invalid_login_error(self):
        # A backend that must tell the person why (a directory account that would take over
        # a local one) leaves the message on the request; otherwise the generic error, which
        # does not reveal which usernames exist.
        message = getattr(self.request, "portal_sign_in_error", "")
        if message:
            return forms.ValidationError(message, code="refused")
        return super().get_invalid_login_error()

    def clean(self):
        username = self.qualified_username()
        if username:
            self.cleaned_data["username"] = username
        return super().clean()


class AdminSignInForm(LockoutAwareMixin, AdminAuthenticationForm):
    """The admin's sign-in form, saying so when the account or address is locked."""


class ReauthenticationForm(forms.Form):
    """Re-enter your password before a sensitive action. Checked with ``authenticate()`` for
    the signed-in user's own name, so it goes through the lockout and the same backends
    (local password or LDAP) as a sign-in."""

    password = forms.CharField(strip=False, widget=forms.PasswordInput)

    def __init__(self, request, *args, **kwargs):
        self.request = request
        self.user = request.user
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        password = cleaned.get("password")
        if password is None:
            return cleaned
        name = str(self.user)
        user = authenticate(self.request, username=name, password=password)
        if user is None or user.pk != self.user.pk:
            raise lock_error(self.request, name) or forms.ValidationError(
                "Wrong password.", code="invalid_login"
            )
        return cleaned


class PasswordChangeForm(forms.Form):
    """Change your own password: the current one, then the new one twice."""

    old_password = forms.CharField(
        label="Current password", strip=False, widget=forms.PasswordInput
    )
    new_password1 = forms.CharField(label="New password", strip=False, widget=forms.PasswordInput)
    new_password2 = forms.CharField(
        label="New password again", strip=False, widget=forms.PasswordInput
    )

    def clean(self):
        cleaned = super().clean()
        first, second = cleaned.get("new_password1"), cleaned.get("new_password2")
        if first and second and first != second:
            self.add_error("new_password2", "The two new passwords differ.")
        return cleaned
