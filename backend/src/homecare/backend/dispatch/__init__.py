"""Dispatch: routing an incident to the community service station that can reach the home fastest, and its tasks.

Exceptions (under the project's root, ``homecare.storage.errors.HomecareError``, whose ``http_status`` each
class sets; HTTP 500 where none is given)::

    DispatchError                    base of this package
    ├── TaskNotFound                 no station task has that id (HTTP 404)
    ├── StationNotFound              no station has that id (HTTP 404); the one for every package
    ├── InvalidTaskTransition        the task action does not apply in the task's status (HTTP 409)
    ├── AlreadyDispatched            a station is already offered or on its way (HTTP 409)
    └── NoStationAvailable           no station is on duty with capacity (HTTP 409)
"""

from homecare.storage.errors import HomecareError


class DispatchError(HomecareError):
    """Base of the dispatch package's exceptions."""


class TaskNotFound(DispatchError):
    http_status = 404

    def __init__(self, task_id: int) -> None:
        super().__init__(f"station task {task_id} does not exist")
        self.task_id = task_id


class StationNotFound(DispatchError):
    http_status = 404

    def __init__(self, station_id: int) -> None:
        super().__init__(f"station {station_id} does not exist")
        self.station_id = station_id


class InvalidTaskTransition(DispatchError):
    """The task action does not apply in the task's current status."""

    http_status = 409


class AlreadyDispatched(DispatchError):
    """The incident already has a station offered or on its way: dispatching again would double-dispatch."""

    http_status = 409


class NoStationAvailable(DispatchError):
    """No station is on duty with free capacity; the operator calls emergency services (120)."""

    http_status = 409
