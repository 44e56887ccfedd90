"""Password policy for local accounts (``AUTH_PASSWORD_VALIDATORS`` in the settings): Django's
similarity, minimum length (``PORTAL_PASSWORD_MIN_LENGTH``) and common-password validators,
plus the two here — character classes (TKEStack's rule: an uppercase letter, a lowercase
letter and a digit; ``PORTAL_PASSWORD_CHARACTER_CLASSES``) and a maximum length
(``PORTAL_PASSWORD_MAX_LENGTH``), which bounds what the hasher is ever asked to digest.
Directory users (LDAP, OIDC) have no local password; their directory has its own policy.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured, ValidationError

CHARACTER_CLASSES = {
    "upper": ("an uppercase letter", str.isupper),
    "lower": ("a lowercase letter", str.islower),
    "digit": ("a digit", str.isdigit),
    "symbol": ("a symbol (neither letter nor digit)", lambda c: not c.isalnum()),
}


class CharacterClassValidator:
    """The password contains at least one character of each required class."""

    def __init__(self, required=("upper", "lower", "digit")):
        unknown = set(required) - set(CHARACTER_CLASSES)
        if unknown:
            raise ImproperlyConfigured(
                f"unknown password character classes {sorted(unknown)}; "
                f"choose from {sorted(CHARACTER_CLASSES)}"
            )
        self.required = tuple(required)

    @staticmethod
    def _names(classes) -> str:
        names = [CHARACTER_CLASSES[name][0] for name in classes]
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]

    def validate(self, password, user=None):
        missing = [
            name for name in self.required if not any(map(CHARACTER_CLASSES[name][1], password))
        ]
        if missing:
            raise ValidationError(
                f"This password lacks {self._names(missing)}; it must contain at least "
                f"{self._names(self.required)}.",
                code="password_missing_character_class",
            )

    def get_help_text(self):
        if not self.required:
            return ""
        return f"Your password must contain at least {self._names(self.required)}."


class MaximumLengthValidator:
    """The password is at most ``max_length`` characters."""

    def __init__(self, max_length=128):
        self.max_length = max_length

    def validate(self, password, user=None):
        if len(password) > self.max_length:
            raise ValidationError(
                f"This password is longer than {self.max_length} characters, the most allowed.",
                code="password_too_long",
            )

    def get_help_text(self):
        return f"Your password can be at most {self.max_length} characters."
