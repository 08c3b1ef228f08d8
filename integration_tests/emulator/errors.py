"""Kustomer's error documents: ApiError (raised by any route, answered as {"errors": [...]}) and the 429 body."""

from __future__ import annotations

from .records import dumps

RATE_LIMIT_BODY = dumps({"errors": [{
    "status": 429, "code": "too_many_requests", "title": "Too Many Requests",
    "detail": "Rate limit exceeded. Try again after the window resets.",
}]})

_TITLES = {400: ("bad_request", "Bad Request"), 401: ("unauthorized", "Unauthorized"),
           403: ("forbidden", "Forbidden"), 404: ("not_found", "Not Found"), 409: ("conflict", "Conflict"),
           413: ("payload_too_large", "Payload Too Large"), 429: ("too_many_requests", "Too Many Requests"),
           500: ("internal_server_error", "Internal Server Error"), 502: ("bad_gateway", "Bad Gateway"),
           503: ("service_unavailable", "Service Unavailable"), 504: ("gateway_timeout", "Gateway Timeout")}


def error_body(status: int, detail: str) -> bytes:
    code, title = _TITLES.get(status, ("error", "Error"))
    return dumps({"errors": [{"status": status, "code": code, "title": title, "detail": detail}]})


class ApiError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
