"""Error handling: Kustomer's answers, by name, in the manifest's `error_handler`; this adds what its filters cannot say."""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Set, Tuple, Union

import requests

from airbyte_cdk.sources.declarative.requesters.error_handlers.default_error_handler import DefaultErrorHandler
from airbyte_cdk.sources.streams.http.error_handlers.response_models import SUCCESS_RESOLUTION, ErrorResolution, ResponseAction

from source_kustomer.manifest import load_manifest
from source_kustomer.pages import REASON, kustomer_reason, page_body
from source_kustomer.search import refused_archive_as_last_page, refused_archive_of_an_archived_context


@dataclass
class KustomerErrorHandler(DefaultErrorHandler):
    """`DefaultErrorHandler`, except that a 200 answering a non-empty JSON object succeeds before the filters run,
    and an error message's `{reason}` becomes Kustomer's own reason (`kustomer_reason`).

    Each filter the CDK evaluates parses the body with the standard json module, for its predicate and again for its
    error message: two parses of every page before the filter that accepts a 200. Anything else goes to the filters.
    """

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        # Streams a key may lack the role of ($parameters `role`): a refusal (403, let through) is said once per stream.
        self._stream = str((parameters or {}).get("name") or "")
        self._role = (parameters or {}).get("role")

    def interpret_response(self, response_or_exception: Optional[Union[requests.Response, Exception]]) -> ErrorResolution:
        if isinstance(response_or_exception, requests.Response) and response_or_exception.status_code == 200:
            body = page_body(response_or_exception)
            if isinstance(body, dict) and body:
                return SUCCESS_RESOLUTION
        resolution = super().interpret_response(response_or_exception)
        if not isinstance(response_or_exception, requests.Response):
            return resolution
        if resolution.response_action == ResponseAction.IGNORE and response_or_exception.status_code == 403 and self._role:
            warn_missing_role(self._stream, self._role, response_or_exception)
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


def warn_missing_role(stream: str, role: str, response: requests.Response) -> None:
    """One warning per role and sync (a process), naming every stream that needs it: they read nothing without it,
    the others go on."""
    with _warned_lock:
        if role in _warned:
            return
        _warned.add(role)
    reason = kustomer_reason(page_body(response), response.reason)
    streams = ", ".join(streams_needing(role)) or stream
    LOGGER.warning(
        f"The API key lacks {role} (Kustomer answered HTTP 403 on {stream}: {reason}): {streams} sync no records, "
        f"the other streams go on. Give the key {role} in Kustomer (Settings > Security > API Keys) to sync them."
    )


def streams_needing(role: str) -> List[str]:
    """The manifest's streams whose $parameters name `role` as the one they need."""
    return [name for name, needed in stream_roles().items() if needed[0] == role]


@functools.lru_cache(maxsize=None)
def stream_roles() -> Dict[str, Tuple[str, ...]]:
    """{stream: (the role named to users, other roles that grant it)} for the streams a key may lack the role of."""
    streams = (load_manifest().get("definitions") or {}).get("streams") or {}
    roles = {}
    for name, stream in streams.items():
        parameters = stream.get("$parameters") or {}
        if parameters.get("role"):
            roles[name] = (parameters["role"], *(parameters.get("also_roles") or ()))
    return roles
