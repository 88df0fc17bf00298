"""Storage foundation: the embedded server, schema migrations, partitions and periodic maintenance.

Exceptions::

    DatabaseError                base of this package
    ├── EmbeddedServerError      the embedded server could not be initialised, started or stopped
    └── MigrationError           a migration failed, was edited after it ran, or the storage mode conflicts
"""


class DatabaseError(Exception):
    """Base of the storage package's exceptions."""


class EmbeddedServerError(DatabaseError):
    """The embedded PostgreSQL server could not be initialised, started or stopped; the message says why."""


class MigrationError(DatabaseError):
    """The schema could not be brought up to date."""
