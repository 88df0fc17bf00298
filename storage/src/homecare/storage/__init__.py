"""Storage foundation: the embedded server, schema migrations, partitions and periodic maintenance.

Exceptions (under the project's root, ``homecare.storage.errors.HomecareError``; all keep its HTTP 500)::

    DatabaseError                base of this package
    ├── DatabaseNotConfigured    a command that needs HOMECARE_DATABASE_URL was run without it
    ├── EmbeddedServerError      the embedded server could not be initialised, started or stopped
    └── MigrationError           a migration failed, was edited after it ran, or the storage mode conflicts
"""

from homecare.storage.errors import HomecareError


class DatabaseError(HomecareError):
    """Base of the storage package's exceptions."""


class DatabaseNotConfigured(DatabaseError):
    """A command that needs a database was run without HOMECARE_DATABASE_URL; the message says which."""


class EmbeddedServerError(DatabaseError):
    """The embedded PostgreSQL server could not be initialised, started or stopped; the message says why."""


class MigrationError(DatabaseError):
    """The schema could not be brought up to date."""
