"""Test-only: the retries of a CLI run without their waits, each wait written to KUSTOMER_TEST_WAITS_FILE.

`integration_tests.cli.instant_backoff_env` puts this directory on PYTHONPATH, and Python imports `sitecustomize` at
startup. The CDK retries through the `backoff` library; its sleeps are recorded instead of slept, as the unit tests'
`waits` fixture does, so a scenario whose retries run out (8 retries, 1 + 2 + ... + 128 s of backoff) runs in
seconds and can check the backoff it would have waited. Nothing of the connector changes: no setting, no code path.
"""

import os
import time
from typing import Any

import backoff._sync

_WAITS_FILE = os.environ.get("KUSTOMER_TEST_WAITS_FILE")


class _InstantSleep:
    """`time` for the `backoff` library: everything as is, except that `sleep` only writes down its seconds."""

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        if _WAITS_FILE:
            with open(_WAITS_FILE, "a") as waits:
                waits.write(f"{seconds}\n")


backoff._sync.time = _InstantSleep()  # type: ignore[assignment]
