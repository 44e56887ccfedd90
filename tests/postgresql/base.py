"""PostgreSQL for the test suite: Django's backend, with a flush that deletes rows instead of
truncating tables.

Every transactional test (``django_db(transaction=True)``, live servers: ~550 of the suite's
~2,900) ends with Django's ``flush``, which on PostgreSQL is one ``TRUNCATE`` of every table.
TRUNCATE gives each of the ~60 tables (and their indexes) new files and unlinks the old ones at
commit: measured here at 3–4.5 s a test on the shared test machine, nearly all of it waiting on
the server, against 0.2–0.4 s for ``DELETE FROM`` each table in one transaction (the tables of
a test hold a handful of rows). Both leave the same state: every table empty, sequences not
reset (``reset_sequences`` and ``allow_cascade`` flushes keep Django's TRUNCATE), and Django's
foreign keys are ``DEFERRABLE INITIALLY DEFERRED``, so the order of the DELETEs does not matter.
A constraint that is not deferrable (a table created by raw SQL) makes the DELETEs fail: the
flush then falls back to Django's TRUNCATE.

Django's flush leaves the tables of unmanaged models alone: the metric point tables
(apps.monitoring, partitioned by raw SQL in a migration) kept one transactional test's points
for the next, whose series ids the following tests reused (a point "of" a new series, orphans
where a test counted none). This flush empties them too.

Both ways the flush keeps the rows of ``KEPT``, the content types and permissions that
``migrate`` wrote when the test database was made, and ``tests/conftest.py`` stops the flush
command from emitting ``post_migrate`` (whose receivers would only write those rows again).
Deleting and re-creating them (~20 apps, ~600 rows) was ~0.45 s of every transactional test,
more than the flush itself. Nothing in the portal writes those tables at run time, so the
state after a flush is the state after ``migrate``, and their ids no longer change under
Django's content-type cache between tests.
"""

from __future__ import annotations

from django.apps import apps
from django.db import IntegrityError
from django.db.backends.postgresql import base, operations

KEPT = frozenset({"django_content_type", "auth_permission"})


class DatabaseOperations(operations.DatabaseOperations):
    _flush_fallback: list[str] = []

    def _unmanaged_tables(self) -> list[str]:
        """The existing tables (not views) of unmanaged models."""
        existing = set(self.connection.introspection.table_names())
        return sorted(
            {
                model._meta.db_table
                for model in apps.get_models()
                if not model._meta.managed and not model._meta.proxy
            }
            & existing
        )

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        tables = [table for table in tables if table not in KEPT]
        tables += [table for table in self._unmanaged_tables() if table not in tables]
        truncate = super().sql_flush(
            style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
        )
        if not tables or reset_sequences or allow_cascade:
            return truncate
        self._flush_fallback = truncate
        return [
            "SET CONSTRAINTS ALL DEFERRED",
            *(f"DELETE FROM {self.quote_name(table)}" for table in tables),  # noqa: S608 (quoted names)
        ]

    def execute_sql_flush(self, sql_list):
        try:
            super().execute_sql_flush(sql_list)
        except IntegrityError:
            if (
                not sql_list
                or not sql_list[-1].startswith("DELETE FROM ")
                or not self._flush_fallback
            ):
                raise
            super().execute_sql_flush(self._flush_fallback)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
