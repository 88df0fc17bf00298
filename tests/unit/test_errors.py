"""The exception trees the packages draw are the classes they define, each under the one root with the status drawn."""

from __future__ import annotations

import inspect
import re
from types import ModuleType
from typing import Final

import pytest

from homecare.backend import (
    accounts,
    calls,
    care,
    dispatch,
    enrolment,
    family,
    incidents,
    notifications,
    reports,
    residents,
    stations,
    telemetry,
)
from homecare.gateway import GatewayError
from homecare.storage import DatabaseError
from homecare.storage.errors import HomecareError, Refusal, RefusedInput

PACKAGES: Final = [
    accounts,
    calls,
    dispatch,
    enrolment,
    family,
    incidents,
    notifications,
    reports,
    residents,
    stations,
    telemetry,
]
DRAWN: Final = re.compile(r"^\s*[│ ]*[├└]── (\w+)\s+(.*)$", re.M)


def _drawn(package: ModuleType) -> dict[str, str]:
    """Class name → its line of the package's drawn tree (the text after the name)."""
    return dict(DRAWN.findall(package.__doc__ or ""))


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.__name__.rpartition(".")[2])
def test_each_drawn_class_exists_under_the_root_with_the_status_drawn(package: ModuleType) -> None:
    drawn = _drawn(package)
    assert drawn, f"{package.__name__} draws no exception tree"
    for name, text in drawn.items():
        cls = getattr(package, name)
        assert issubclass(cls, HomecareError), name
        status = re.search(r"\bHTTP (\d{3})", text)
        if status:
            assert cls.http_status == int(status.group(1)), f"{package.__name__}.{name}"
        else:  # none drawn: the class sets none, keeping its parent's (the root's 500 under a package base)
            assert "http_status" not in vars(cls), f"{package.__name__}.{name}"


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.__name__.rpartition(".")[2])
def test_every_exception_a_package_defines_is_drawn(package: ModuleType) -> None:
    defined = {
        name
        for name, obj in inspect.getmembers(package, inspect.isclass)
        if issubclass(obj, HomecareError) and obj.__module__ == package.__name__
    }
    bases = {name for name in defined if getattr(package, name).__bases__ == (HomecareError,)}
    assert defined - bases == set(_drawn(package)), package.__name__


def test_storage_and_gateway_errors_share_the_root() -> None:
    assert issubclass(DatabaseError, HomecareError)
    assert issubclass(GatewayError, HomecareError)


def test_headers_and_structured_details() -> None:
    assert accounts.TooManyAttempts(7).headers() == {"Retry-After": "7"}
    assert accounts.NotAuthenticated("sign in first").headers() == {"WWW-Authenticate": "Bearer"}
    assert accounts.LoginRefused("no").headers() == {}
    assert enrolment.InvalidEnrolment("unknown zone", field="timezone").detail() == [
        {"loc": ["body", "timezone"], "msg": "unknown zone", "type": "value_error"}
    ]
    rejected = enrolment.ImportRejected([enrolment.RowError(line=3, reason="no name")])
    assert rejected.detail() == {
        "message": "1 line(s) refused; nothing was imported",
        "errors": [{"line": 3, "reason": "no name"}],
    }
    assert incidents.IncidentNotFound(5).detail() == "incident 5 does not exist"


def test_a_coded_refusal_answers_in_the_shape_the_pages_read() -> None:
    """Any package's refusal (care's here) is a 422 whose items carry the code and context common.js says."""
    refused = care.InvalidCareInput(
        [("name", "too long"), Refusal("visit.at", "checked out", "care.checked_out", {"at": "2026-01-01"})]
    )
    assert isinstance(refused, RefusedInput)
    assert refused.http_status == 422
    assert refused.detail() == [
        {"loc": ["body", "name"], "msg": "too long", "type": "value_error"},
        {"loc": ["body", "visit", "at"], "msg": "checked out", "type": "care.checked_out", "ctx": {"at": "2026-01-01"}},
    ]
    assert str(refused) == "name: too long; visit.at: checked out"
