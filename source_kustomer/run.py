"""The `source-kustomer` console script: builds the source from the command line's config, catalog and state."""

from __future__ import annotations

import ctypes
import gc
import sys
import traceback
from datetime import datetime, timezone
from typing import List, Optional

import orjson

from airbyte_cdk.entrypoint import launch
from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteErrorTraceMessage,
    AirbyteMessage,
    AirbyteMessageSerializer,
    AirbyteTraceMessage,
    FailureType,
    Status,
    TraceType,
    Type,
)

from source_kustomer.config import ConfigError, normalize_config
from source_kustomer.source import SourceKustomer


def _emit(message: AirbyteMessage) -> None:
    print(orjson.dumps(AirbyteMessageSerializer.dump(message)).decode(), flush=True)


def _error_trace(message: str, internal: Optional[str] = None, failure_type: FailureType = FailureType.config_error) -> AirbyteMessage:
    return AirbyteMessage(
        type=Type.TRACE,
        trace=AirbyteTraceMessage(
            type=TraceType.ERROR,
            emitted_at=datetime.now(timezone.utc).timestamp() * 1000,
            error=AirbyteErrorTraceMessage(message=message, internal_message=internal, failure_type=failure_type),
        ),
    )


def _command(args: List[str]) -> Optional[str]:
    return next((arg for arg in args if not arg.startswith("-")), None)


def _option(args: List[str], name: str) -> Optional[str]:
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _load(kind: str, path: Optional[str], loader) -> object:  # type: ignore[no-untyped-def]
    """Reads one of the command line's files, turning every failure into a ConfigError that names it."""
    if path is None:
        return None
    try:
        return loader(path)
    except FileNotFoundError:
        raise ConfigError(f"The {kind} file {path} does not exist.") from None
    except ConfigError:
        raise
    except Exception as error:  # a malformed file, whatever the parser raised
        raise ConfigError(f"The {kind} file {path} could not be read: {type(error).__name__}: {_first_line(error)}") from None


def _first_line(error: BaseException) -> str:
    """The error on one line: schema errors put their reason on the lines after "Schema validation failed:"."""
    return " ".join(str(error).split())[:300]


def create_source(args: List[str]) -> SourceKustomer:
    """The source built from the config, catalog and state given on the command line (the CDK reads them only here)."""
    config_path = _option(args, "--config")
    catalog_path = _option(args, "--catalog")
    state_path = _option(args, "--state")
    config = _load("config", config_path, lambda p: normalize_config(_read_json(p)))
    catalog = _load("catalog", catalog_path, SourceKustomer.read_catalog)
    state = _load("state", state_path, _read_state)
    return SourceKustomer(catalog=catalog, config=config, state=state, config_path=config_path)  # type: ignore[arg-type]


def _read_json(path: str) -> object:
    with open(path, "rb") as handle:
        return orjson.loads(handle.read())


def _read_state(path: str) -> object:
    content = _read_json(path)
    if isinstance(content, dict) and content:
        # The legacy {"<stream>": {...}} object: reading it as a list would fail on its first key, far from the cause.
        raise ConfigError(
            f"The state file {path} holds a legacy state object; expected a list of per-stream state messages such as "
            '[{"type": "STREAM", "stream": {"stream_descriptor": {"name": "customers"}, "stream_state": {"updated_at": "..."}}}].'
        )
    return SourceKustomer.read_state(path)


def run(args: Optional[List[str]] = None) -> None:
    args = sys.argv[1:] if args is None else args
    command = _command(args)
    try:
        source = create_source(args)
    except ConfigError as error:
        if command == "check":
            _emit(AirbyteMessage(type=Type.CONNECTION_STATUS, connectionStatus=AirbyteConnectionStatus(status=Status.FAILED, message=str(error))))
            return
        _emit(_error_trace(str(error)))
        sys.exit(1)
    except Exception as error:  # the manifest or CDK failed to build the streams: say so in the protocol
        _emit(
            _error_trace(
                f"source-kustomer could not start: {type(error).__name__}: {_first_line(error)}",
                internal=traceback.format_exc(),
                failure_type=FailureType.system_error,
            )
        )
        sys.exit(1)
    tune_gc()
    tune_malloc()
    tune_threads()
    launch(source, args)


GC_THRESHOLDS = (10_000, 10, 10)


def tune_gc() -> None:
    """A page of 500 Kustomer objects allocates ~100,000 containers: at the default thresholds the cyclic GC runs
    ~150 times a page and rescans the CDK's own objects each time, half the CPU of a sync. Pages hold no cycles: what
    is loaded at start-up is frozen out of the collector's scans, and it runs ~14 times less often."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


# How long a thread may hold the interpreter while others wait for it (Python's default: 5 ms).
SWITCH_INTERVAL_SECONDS = 0.02


def tune_threads() -> None:
    """Longer turns for the threads of a sync: with several searches in flight and pages answered at once, the workers
    and the writer took the interpreter from each other every 5 ms, each time with the other's page out of the CPU's
    caches. At 20 ms a full read of 100,000 customers with 8 workers took about 5% less CPU (three runs each way,
    `make bench`'s data) and 10% less peak memory; a page whose answer arrives waits at most 20 ms longer for its turn,
    against Kustomer's 0.6 s or more per search."""
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)


# glibc's mallopt parameters (malloc.h) and the values a sync runs with.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8
MALLOC_SETTINGS = ((M_ARENA_MAX, 2), (M_MMAP_THRESHOLD, 1 << 20), (M_TRIM_THRESHOLD, 32 << 20))


def tune_malloc() -> bool:
    """glibc's malloc set for a sync's allocations; True if glibc took every setting (elsewhere nothing changes).

    - Two arenas, as MALLOC_ARENA_MAX=2 would: glibc gives each thread that allocates its own arena (up to 8 per
      core), and what a worker's page of Kustomer objects leaves behind stays in that worker's arena.
    - Blocks of 1 MB and more (a page's 2 MB body, the output buffer) mapped and unmapped on their own: glibc raises
      its mapping threshold after the first such block is freed and then carves them out of the heap, which grows
      through a sync, 1 MB chunks at a time, and does not shrink back. Free memory at the heap's top is kept up to
      32 MB, glibc's own ceiling, so the heap does not shrink and grow again between pages.

    Full read in `make bench`: peak RSS 201-231 MB with glibc's defaults, 184-206 MB with two arenas, 166-171 MB with
    all three, and a tenth of the data 149-158 MB, so peak RSS no longer grows with the data (x1.08 instead of up to
    x1.2). The price is page faults on the mapped blocks: a tenth-of-the-data read spent 0.9 s in the kernel instead
    of 0.45 s (about 7% of its CPU time). Kustomer's rate limits, not CPU, bound a real sync.
    """
    try:
        libc = ctypes.CDLL(None)
        return all([bool(libc.mallopt(parameter, value)) for parameter, value in MALLOC_SETTINGS])
    except (OSError, AttributeError):
        return False


if __name__ == "__main__":
    run()
