"""Where the centre keeps what it knows: the database (`db`), its tables (`models`) and their
Alembic migrations (`migrate`, `migrations/`). Imports nothing else of the centre."""
