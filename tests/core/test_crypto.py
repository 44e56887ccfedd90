"""Secrets at rest: the first PORTAL_ENCRYPTION_KEYS key encrypts, all of them decrypt."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from apps.core import crypto

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def test_round_trip_and_ciphertext_hides_the_secret(settings):
    settings.PORTAL_ENCRYPTION_KEYS = [NEW]
    token = crypto.encrypt("bearer-token-123")
    assert "bearer-token-123" not in token
    assert crypto.decrypt(token) == "bearer-token-123"


def test_rotation_first_key_encrypts_all_decrypt(settings):
    settings.PORTAL_ENCRYPTION_KEYS = [OLD]
    stored = crypto.encrypt("s3cret")
    settings.PORTAL_ENCRYPTION_KEYS = [NEW, OLD]
    assert crypto.decrypt(stored) == "s3cret"
    rotated = crypto.rotate(stored)
    settings.PORTAL_ENCRYPTION_KEYS = [NEW]
    assert crypto.decrypt(rotated) == "s3cret"
    with pytest.raises(crypto.DecryptionError, match="PORTAL_ENCRYPTION_KEYS"):
        crypto.decrypt(stored)


def test_bad_or_missing_keys_are_configuration_errors(settings):
    settings.PORTAL_ENCRYPTION_KEYS = ["not-a-fernet-key"]
    with pytest.raises(ImproperlyConfigured, match="Fernet"):
        crypto.encrypt("x")
    settings.PORTAL_ENCRYPTION_KEYS = []
    with pytest.raises(ImproperlyConfigured, match="empty"):
        crypto.encrypt("x")


def test_field_encrypts_on_the_way_in_and_decrypts_on_the_way_out(settings):
    settings.PORTAL_ENCRYPTION_KEYS = [NEW]
    field = crypto.EncryptedTextField()
    stored = field.get_prep_value("kubeconfig-data")
    assert stored != "kubeconfig-data"
    assert field.from_db_value(stored, None, None) == "kubeconfig-data"
    assert field.get_prep_value("") == ""
