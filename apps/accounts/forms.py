from django import forms
from django.contrib.auth.forms import UserCreationForm

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
