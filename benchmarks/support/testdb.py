"""A throwaway test database for one benchmark run, as pytest-django makes one for tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def test_database() -> Iterator[object]:
    """Set Django up with the test settings, create the test database, yield the connection,
    and drop the database afterwards (also when the benchmark fails)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tkeportal.settings.test")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield connection
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
