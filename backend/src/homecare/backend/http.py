"""The one place the project's exceptions become HTTP answers.

Services raise their domain exceptions (every one under ``homecare.storage.errors.HomecareError``) and routers let
them pass; the handler here answers with the class's ``http_status``, its ``headers()`` and, as FastAPI's
``HTTPException`` does, ``{"detail": …}`` holding its ``detail()`` (the message, or a structured detail where a
class gives one). A class with no status of its own (500) is logged with its traceback: no request should end in
one. On a WebSocket the exception goes on as before (the server closes the socket): routes there refuse callers
themselves. Under the FHIR R4 interface every refusal (ours, FastAPI's, Starlette's) is an OperationOutcome, and the
OAuth2 token endpoint answers RFC 6749's ``{"error": …}``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from homecare.backend.fhir import TokenRefused
from homecare.backend.fhir.resources import FHIR_JSON, R4_PREFIX, operation_outcome
from homecare.storage.errors import HomecareError

log = logging.getLogger(__name__)


def _fhir(request: Request) -> bool:
    """Whether the request is for the FHIR R4 interface, whose every answer is FHIR JSON."""
    return request.url.path == R4_PREFIX or request.url.path.startswith(R4_PREFIX + "/")


def _outcome(status: int, diagnostics: str, headers: Mapping[str, str] | None = None) -> Response:
    return JSONResponse(operation_outcome(status, diagnostics), status, headers=headers, media_type=FHIR_JSON)


async def homecare_error(request: Request, err: Exception) -> Response:
    """The answer to a request that ended in one of the project's exceptions."""
    if request.scope["type"] != "http" or not isinstance(err, HomecareError):
        raise err
    if err.http_status == 500:
        log.error(
            "%s %s ended in %s, which has no HTTP status of its own",
            request.method,
            request.url.path,
            type(err).__name__,
            exc_info=err,
        )
    if _fhir(request):
        return _outcome(err.http_status, str(err), err.headers())
    if isinstance(err, TokenRefused):  # OAuth2 clients read RFC 6749's error body
        body: dict[str, object] = {"error": err.error, "error_description": str(err)}
        return JSONResponse(body, status_code=err.http_status, headers={**err.headers(), "Cache-Control": "no-store"})
    return JSONResponse({"detail": err.detail()}, status_code=err.http_status, headers=err.headers())


async def invalid_request(request: Request, err: Exception) -> Response:
    """FastAPI's 422 for a request its models refuse, written in ASCII: the input it echoes may hold the lone
    surrogate it was refused for, which UTF-8 cannot carry (the answer would be a 500 instead)."""
    assert isinstance(err, RequestValidationError)
    if _fhir(request):
        names = ", ".join(".".join(str(part) for part in error["loc"]) for error in err.errors())
        return _outcome(400, f"invalid request: {names}".encode("ascii", "backslashreplace").decode())
    body = json.dumps({"detail": jsonable_encoder(err.errors())}, ensure_ascii=True)
    return Response(body, status_code=422, media_type="application/json")


async def http_error(request: Request, err: Exception) -> Response:
    """Starlette's own refusals (no such route, a method not allowed): an OperationOutcome under the FHIR
    interface, FastAPI's answer elsewhere."""
    assert isinstance(err, HTTPException)
    if _fhir(request):
        return _outcome(err.status_code, f"{request.method} {request.url.path}: {err.detail}", err.headers)
    return await http_exception_handler(request, err)


def install(app: FastAPI) -> None:
    """Answer every ``HomecareError`` a route raises with its class's status, headers and detail, and every refused
    request with a 422 that names the field; under the FHIR interface, each as an OperationOutcome."""
    app.add_exception_handler(HomecareError, homecare_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(HTTPException, http_error)
