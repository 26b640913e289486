"""The centre's tests share the fixtures in tests/support/centre/fixtures.py: `db_url` (an empty
database of the test's own, on SQLite and PostgreSQL) and `centre` (a served centre, emptied for
each test)."""
from tests.support.centre.fixtures import centre, db_url, served_centre  # noqa: F401  (fixtures, used by name)
