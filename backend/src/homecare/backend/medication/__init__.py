"""Medication: each resident's schedules, a reminder at each dose time, its confirmation, escalation and adherence.

Exceptions (under the project's root, ``homecare.storage.errors.HomecareError``)::

    MedicationError          base of this package
    └── ScheduleNotFound     no schedule has that id, or the caller may not see its resident (HTTP 404)
"""

from homecare.storage.errors import HomecareError


class MedicationError(HomecareError):
    """Base of the medication package's exceptions."""


class ScheduleNotFound(MedicationError):
    """No medication schedule has that id, or it is not the caller's to see."""

    http_status = 404

    def __init__(self, schedule_id: int) -> None:
        super().__init__(f"medication schedule {schedule_id} does not exist")
        self.schedule_id = schedule_id
