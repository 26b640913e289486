"""Alembic environment for the centre. Run through centre.storage.migrate, which passes the connection."""
from alembic import context

from centre.storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the centre's migrations with `centre migrate` (centre.storage.migrate), "
                       "which hands Alembic an open connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
