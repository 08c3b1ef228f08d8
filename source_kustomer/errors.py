"""Error handling: Kustomer's answers, by name, in the manifest's `error_handler`; this adds what its filters cannot say."""

from __future__ import annotations

import dataclasses
import logging
import threading
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Set, Tuple, Union

import requests

from airbyte_cdk.sources.declarative.requesters.error_handlers.default_error_handler import DefaultErrorHandler
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.error_handlers.response_models import SUCCESS_RESOLUTION, ErrorResolution, ResponseAction

from source_kustomer.pages import REASON, kustomer_reason, page_body
from source_kustomer.search import refused_archive_as_last_page, refused_archive_of_an_archived_context


@dataclass
class KustomerErrorHandler(DefaultErrorHandler):
    """`DefaultErrorHandler`, except that a 200 answering a non-empty JSON object succeeds before the filters run,
    and an error message's `{reason}` becomes Kustomer's own reason (`kustomer_reason`).

    Each filter the CDK evaluates parses the body with the standard json module, for its predicate and again for its
    error message: two parses of every page before the filter that accepts a 200. Anything else goes to the filters.

    A stream whose $parameters name the `roles` that grant it (an API key may well lack them) is let through a 403:
    the stream syncs nothing, one warning names the roles, and the other streams go on. (A response filter cannot do
    it: its predicate does not see the status, and its `http_codes` match any 403, with or without `roles`.)
    """

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        self._stream = str((parameters or {}).get("name") or "")
        roles = (parameters or {}).get("roles")
        self._roles: Tuple[str, ...] = tuple(roles) if isinstance(roles, (list, tuple)) else ()

    def interpret_response(self, response_or_exception: Optional[Union[requests.Response, Exception]]) -> ErrorResolution:
        if isinstance(response_or_exception, requests.Response) and response_or_exception.status_code == 200:
            body = page_body(response_or_exception)
            if isinstance(body, dict) and body:
                return SUCCESS_RESOLUTION
        resolution = super().interpret_response(response_or_exception)
        if not isinstance(response_or_exception, requests.Response):
            return resolution
        if self._roles and response_or_exception.status_code == 403 and resolution.response_action == ResponseAction.FAIL:
            return missing_role(self._stream, self._roles, response_or_exception)
        if resolution.response_action == ResponseAction.IGNORE:
            failed = refused_archive_of_an_archived_context(response_or_exception)
            if failed is not None:
                return failed
            refused_archive_as_last_page(response_or_exception)
        if resolution.error_message and REASON in resolution.error_message:
            reason = kustomer_reason(page_body(response_or_exception), response_or_exception.reason)
            resolution = dataclasses.replace(resolution, error_message=resolution.error_message.replace(REASON, reason))
        return resolution


LOGGER = logging.getLogger("airbyte")
_warned: Set[str] = set()
_warned_lock = threading.Lock()


def roles_wording(roles: Tuple[str, ...]) -> str:
    """`org.permission.queue.read or org.permission.routing.read`."""
    return " or ".join(roles)


def missing_role(stream: str, roles: Tuple[str, ...], response: requests.Response) -> ErrorResolution:
    """The stream's 403, let through with one warning per stream naming the roles that would grant it."""
    message = (
        f"{stream}: the API key lacks {roles_wording(roles)} (HTTP 403: "
        f"{kustomer_reason(page_body(response), response.reason)}): the stream syncs nothing, the other streams go on. "
        f"Give the key that role in Kustomer (Settings > Security > API Keys) to sync it."
    )
    with _warned_lock:
        first = stream not in _warned
        _warned.add(stream)
    if first:
        LOGGER.warning(message)
    return ErrorResolution(response_action=ResponseAction.IGNORE, failure_type=FailureType.config_error, error_message=message)
