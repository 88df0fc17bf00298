"""Calls: voice (and consented video) between an operator's browser and a resident's home unit over WebRTC.

Exceptions (under the project's root, ``homecare.storage.errors.HomecareError``, whose ``http_status`` each
class sets; HTTP 500 where none is given)::

    CallsError                       base of this package
    ├── CallNotFound                 no call has that id, or the caller may not see it (HTTP 404)
    ├── NotCallable                  the incident is closed or the home has no home unit (HTTP 409)
    ├── HomeUnitBusy                 the home unit is already in a call (HTTP 409)
    ├── HomeUnitOffline              the home unit is offline: a call would ring into nothing (HTTP 409)
    ├── CallOver                     the call has already ended (HTTP 409)
    ├── LineBusy                     this backend already carries its maximum of calls (HTTP 503)
    ├── CallerRefused                the signalling socket's caller may not join (WebSocket 1008; HTTP 403)
    └── RecordingNotFound            the call was not recorded, or its recording has been purged (HTTP 404)
"""

from datetime import datetime

from homecare.storage.errors import HomecareError


class CallsError(HomecareError):
    """Base of the calls package's exceptions."""


class CallNotFound(CallsError):
    http_status = 404

    def __init__(self, call_id: str) -> None:
        super().__init__(f"call {call_id} does not exist")
        self.call_id = call_id


class NotCallable(CallsError):
    """The incident cannot be called now; the message says why."""

    http_status = 409


class HomeUnitBusy(CallsError):
    """A home unit takes one call at a time; the message names the call in progress."""

    http_status = 409

    def __init__(self, *, call_id: str, device_uid: str) -> None:
        super().__init__(f"home unit {device_uid} is in call {call_id}: hang that call up first")
        self.call_id = call_id


class HomeUnitOffline(CallsError):
    """The home unit is offline by the devices' rule: refused at once rather than ringing for the whole timeout."""

    http_status = 409

    def __init__(self, *, device_uid: str, last_contact: datetime | None) -> None:
        heard = "never heard from" if last_contact is None else f"last heard from at {last_contact.isoformat()}"
        super().__init__(f"home unit {device_uid} is offline ({heard})")
        self.device_uid = device_uid


class CallOver(CallsError):
    """The call has already ended."""

    http_status = 409


class LineBusy(CallsError):
    """This backend carries as many calls as it is set to; another would break the audio of all."""

    http_status = 503


class CallerRefused(CallsError):
    """The signalling socket's caller (a user or a device token) may not join the call; the message says why."""

    http_status = 403


class RecordingNotFound(CallsError):
    http_status = 404

    def __init__(self, call_id: str) -> None:
        super().__init__(f"call {call_id} has no recording")
        self.call_id = call_id
