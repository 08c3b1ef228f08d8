"""Error handling: Kustomer's answers, by name, in the manifest's `error_handler`; this adds what its filters cannot say."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional, Union

import requests

from airbyte_cdk.sources.declarative.requesters.error_handlers.default_error_handler import DefaultErrorHandler
from airbyte_cdk.sources.streams.http.error_handlers.response_models import SUCCESS_RESOLUTION, ErrorResolution, ResponseAction

from source_kustomer.pages import REASON, kustomer_reason, page_body
from source_kustomer.search import refused_archive_as_last_page, refused_archive_of_an_archived_context


@dataclass
class KustomerErrorHandler(DefaultErrorHandler):
    """`DefaultErrorHandler`, except that a 200 answering a non-empty JSON object succeeds before the filters run,
    and an error message's `{reason}` becomes Kustomer's own reason (`kustomer_reason`).

    Each filter the CDK evaluates parses the body with the standard json module, for its predicate and again for its
    error message: two parses of every page before the filter that accepts a 200. Anything else goes to the filters.
    """

    def interpret_response(self, response_or_exception: Optional[Union[requests.Response, Exception]]) -> ErrorResolution:
        if isinstance(response_or_exception, requests.Response) and response_or_exception.status_code == 200:
            body = page_body(response_or_exception)
            if isinstance(body, dict) and body:
                return SUCCESS_RESOLUTION
        resolution = super().interpret_response(response_or_exception)
        if not isinstance(response_or_exception, requests.Response):
            return resolution
        if resolution.response_action == ResponseAction.IGNORE:
            failed = refused_archive_of_an_archived_context(response_or_exception)
            if failed is not None:
                return failed
            refused_archive_as_last_page(response_or_exception)
        if resolution.error_message and REASON in resolution.error_message:
            reason = kustomer_reason(page_body(response_or_exception), response_or_exception.reason)
            resolution = dataclasses.replace(resolution, error_message=resolution.error_message.replace(REASON, reason))
        return resolution
