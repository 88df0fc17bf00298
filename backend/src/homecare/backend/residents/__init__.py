"""Residents: the people cared for at home, and the audit trail of who read their records.

Exceptions::

    ResidentsError               base of this package
    └── ResidentNotFound         no resident has that id
"""


class ResidentsError(Exception):
    """Base of the residents package's exceptions."""


class ResidentNotFound(ResidentsError):
    """No resident has that id."""

    def __init__(self, resident_id: int) -> None:
        super().__init__(f"resident {resident_id} does not exist")
        self.resident_id = resident_id
