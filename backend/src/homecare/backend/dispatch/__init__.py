"""Dispatch: routing an incident to the community service station that can reach the home fastest, and its tasks.

Exceptions::

    DispatchError                    base of this package
    ├── TaskNotFound                 no station task has that id (HTTP 404)
    ├── StationNotFound              no station has that id (HTTP 404)
    ├── InvalidTaskTransition        the task action does not apply in the task's status (HTTP 409)
    ├── AlreadyDispatched            a station is already offered or on its way (HTTP 409)
    └── NoStationAvailable           no station is on duty with capacity (HTTP 409)
"""


class DispatchError(Exception):
    """Base of the dispatch package's exceptions."""


class TaskNotFound(DispatchError):
    def __init__(self, task_id: int) -> None:
        super().__init__(f"station task {task_id} does not exist")
        self.task_id = task_id


class StationNotFound(DispatchError):
    def __init__(self, station_id: int) -> None:
        super().__init__(f"station {station_id} does not exist")
        self.station_id = station_id


class InvalidTaskTransition(DispatchError):
    """The task action does not apply in the task's current status."""


class AlreadyDispatched(DispatchError):
    """The incident already has a station offered or on its way: dispatching again would double-dispatch."""


class NoStationAvailable(DispatchError):
    """No station is on duty with free capacity; the operator calls emergency services (120)."""
