"""The error reply every emulated service raises (:class:`ServiceError`) and its bodies in the shapes each AEP
service documents: the gateway's
(https://experienceleague.adobe.com/en/docs/experience-platform/landing/troubleshooting), the Flow Service
``FLOW-`` and Schema Registry ``XDM-`` envelopes, and the generic ``{type,title,status,detail}`` one.

A low module: the gateway, the services and the query helpers raise what it builds; it imports nothing of
AEP Local.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """An error reply in the documented body shape of the service that raises it."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None):
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}


def gateway(status: int, code: str, message: str) -> ServiceError:
    """Adobe I/O gateway error: ``{"error_code": "401013", "message": "Oauth token is not valid"}``."""
    return ServiceError(status, {"error_code": code, "message": message})


def flow(code: str, title: str, message: str, *, request_id: str = "", **report: Any) -> ServiceError:
    """Flow Service error, e.g. ``flow("1439-404", "Resource not found", "...", id=..., type="flows")``."""
    status = int(code.rsplit("-", 1)[1])
    body = {
        "type": f"https://ns.adobe.com/aep/errors/FLOW-{code}",
        "title": title,
        "status": status,
        "report": {"detailed-message": message, **report, "request-id": request_id},
        "errorMessage": message,
        "errorDetails": message,
    }
    return ServiceError(status, body)


def flow_not_found(kind: str, id: str, request_id: str = "") -> ServiceError:
    message = f"The requested {kind} resource {id} is not found. Verify the resource ID before trying again."
    return flow("1439-404", "Resource not found", message, request_id=request_id, id=id, type=kind)


def xdm(code: str, title: str, message: str, *, request_id: str = "", timestamp: str = "",
        sub_errors: list[Any] | None = None) -> ServiceError:
    """Schema Registry error: ``http://ns.adobe.com/aep/errors/XDM-1010-404`` envelope."""
    status = int(code.rsplit("-", 1)[1])
    body = {
        "type": f"http://ns.adobe.com/aep/errors/XDM-{code}",
        "title": title,
        "status": status,
        "report": {
            "registryRequestId": request_id,
            "timestamp": timestamp,
            "detailed-message": message,
            "sub-errors": sub_errors or [],
        },
        "detail": message,
    }
    return ServiceError(status, body)


def problem(status: int, title: str, detail: str, *, code: str | None = None, **extra: Any) -> ServiceError:
    """The generic AEP envelope ``{"type","title","status","detail"}`` (Catalog, Data Prep, Data Access).

    The exact bodies of these services are not documented (https://developer.adobe.com/experience-platform-apis/references/catalog/, https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/api/mapping-set); the deviations list says so.
    """
    body: dict[str, Any] = {
        "type": f"https://ns.adobe.com/aep/errors/{code}" if code else "/placeholder/type/uri",
        "title": title,
        "status": status,
        "detail": detail,
    }
    body.update(extra)
    return ServiceError(status, body)


def bad_content_type() -> ServiceError:
    return problem(400, "BadRequestError", "A valid content-type must be specified")
