"""Test helpers for the centre (tests/centre, and the fault tests and benchmarks that need a centre):
`testkit` (a simulated unit and a centre served in a thread), `process` (a real `centre serve`
and the `centre` command as processes), `fixtures` (the database and centre fixtures, on SQLite
and PostgreSQL), `event_writer` (events written straight into the table) and `dashboard_seed`."""
