"""Local emulator of the Kustomer REST API v1 for integration tests and benchmarks.

    from integration_tests.emulator import KustomerEmulator, DEFAULT_TOKEN
    with KustomerEmulator(seed=42) as emu:
        ...  # emu.url, emu.records("customers"), emu.stats()
"""

from .auth import DEFAULT_TOKEN, NO_AUDIT_TOKEN
from .server import KustomerEmulator

# The connector's name of each emulator stream that the connector names otherwise (after Kustomer's endpoint paths).
CONNECTOR_STREAM = {"schedules": "business_schedules", "satisfaction": "satisfaction_forms"}

__all__ = ["KustomerEmulator", "DEFAULT_TOKEN", "NO_AUDIT_TOKEN", "CONNECTOR_STREAM"]
