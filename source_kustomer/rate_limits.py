"""Waiting out Kustomer's rate limit after a 429 (the pacing budget before one is `cdk_internals.KustomerAPIBudget`)."""

from __future__ import annotations

import time
from dataclasses import InitVar, dataclass
from typing import Any, Mapping, Optional, Union

import requests

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.requesters.error_handlers.backoff_strategy import BackoffStrategy
from airbyte_cdk.sources.types import Config
from airbyte_cdk.utils.traced_exception import AirbyteTracedException


@dataclass
class RateLimitResetBackoff(BackoffStrategy):
    """Waits until Kustomer's rate-limit window resets, read from `x-ratelimit-reset` on a 429.

    The built-ins each read one form of the header: `WaitUntilTimeFromHeader` an epoch time, `WaitTimeFromHeader`
    a number of seconds. Kustomer's documentation does not say which it sends, so this accepts both (a value past
    one billion is an epoch time), and refuses to wait longer than `max_wait_seconds`, failing with a transient
    error that says so. Responses other than 429, or a 429 without the header, are left to the next strategy.
    """

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    reset_header: str = "x-ratelimit-reset"
    max_wait_seconds: Union[float, str] = 300

    # Epoch seconds are above this; a number of seconds to wait is far below it.
    _EPOCH_THRESHOLD = 1_000_000_000
    # After a 429 the reset time (one-second resolution) is waited out with a margin, so the retry lands in the
    # new window even if Kustomer rounds it down or its clock runs behind ours.
    _MARGIN_SECONDS = 0.5

    def backoff_time(
        self,
        response_or_exception: Optional[Union[requests.Response, requests.RequestException]],
        attempt_count: int,
    ) -> Optional[float]:
        if not isinstance(response_or_exception, requests.Response) or response_or_exception.status_code != 429:
            return None
        wait = seconds_until_reset(response_or_exception.headers.get(self.reset_header), margin=self._MARGIN_SECONDS)
        if wait is None:
            return None
        limit = float(self.max_wait_seconds)
        if wait > limit:
            raise AirbyteTracedException(
                message=(
                    f"Kustomer's rate limit would need a wait of {wait:.0f} s (x-ratelimit-reset), longer than the "
                    f"{limit:.0f} s this connector waits. The sync stopped; run it again later."
                ),
                internal_message=f"x-ratelimit-reset asked for {wait:.1f} s > max_wait_seconds {limit}",
                failure_type=FailureType.transient_error,
            )
        return wait


def seconds_until_reset(header_value: Optional[str], now: Optional[float] = None, margin: float = 0.0) -> Optional[float]:
    """Seconds to wait for `x-ratelimit-reset` (epoch seconds or seconds to wait) plus `margin`; None if absent."""
    if header_value is None:
        return None
    try:
        value = float(header_value)
    except (TypeError, ValueError):
        return None
    if value > RateLimitResetBackoff._EPOCH_THRESHOLD:
        value -= time.time() if now is None else now
    return max(value, 0.0) + margin
