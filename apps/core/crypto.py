"""Encryption at rest for secrets (cluster credentials, channel passwords, IdP secrets).

``PORTAL_ENCRYPTION_KEYS`` is a list of Fernet keys: the first encrypts, every one decrypts,
so a key is rotated by putting the new key first, re-encrypting stored values with
:func:`rotate`, then dropping the old key.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


class DecryptionError(Exception):
    """A stored value cannot be decrypted with any configured key."""


@lru_cache(maxsize=4)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("PORTAL_ENCRYPTION_KEYS is empty: secrets cannot be stored")
    try:
        return MultiFernet([Fernet(key.strip().encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "PORTAL_ENCRYPTION_KEYS must be url-safe base64 Fernet keys (32 bytes each)"
        ) from exc


def fernet() -> MultiFernet:
    return _fernet_for(tuple(settings.PORTAL_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    return _decrypt(token, tuple(settings.PORTAL_ENCRYPTION_KEYS))


# Every proxied kubectl request reads its cluster's credential: the plaintext of a ciphertext
# never changes (a new value or a rotated key is a new ciphertext), so recent ones are kept.
@lru_cache(maxsize=512)
def _decrypt(token: str, keys: tuple[str, ...]) -> str:
    try:
        return _fernet_for(keys).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError(
            "stored secret cannot be decrypted with any key in PORTAL_ENCRYPTION_KEYS"
        ) from exc


def rotate(token: str) -> str:
    """Re-encrypt ``token`` with the first (current) key."""
    return fernet().rotate(token.encode()).decode()


class EncryptedTextField(models.TextField):
    """A text column stored Fernet-encrypted; Python code sees plaintext.

    Encrypted values cannot be filtered on. Empty strings are stored empty (nothing secret).
    """

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return encrypt(value)

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        return decrypt(value)

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        return name, "apps.core.crypto.EncryptedTextField", args, kwargs
