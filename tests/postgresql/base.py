"""PostgreSQL for the tests (config/test_settings.py): Django's backend, except that a flush
empties the tables with DELETE instead of TRUNCATE.

pytest-django flushes every table after each transactional test (the browser tests, the worker
tests, the concurrency tests). TRUNCATE gives each of the ~80 tables, its indexes and its TOAST
table new files: 1-3 s per test on this machine even with the tables empty, where deleting the
few rows a test wrote takes milliseconds. The result is the same: every table empty, sequences
kept (Django's TRUNCATE does not restart them either, unless asked to). Django creates its foreign
keys DEFERRABLE INITIALLY DEFERRED and the flush runs in one transaction, so the order of the
DELETEs does not matter. A test that asks for reset_sequences still gets Django's TRUNCATE.
"""

from django.db.backends.postgresql import base, operations


class DatabaseOperations(operations.DatabaseOperations):
    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if not tables or reset_sequences:
            return super().sql_flush(style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        return [f"{style.SQL_KEYWORD('SET CONSTRAINTS ALL DEFERRED')};"] + [
            f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(self.quote_name(table))};" for table in tables
        ]


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
