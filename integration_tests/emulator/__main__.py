"""Run the Kustomer emulator as a process.

    python -m integration_tests.emulator [--port 0] [--seed 42] [--scale 1.0]
        [--counts customers=100000,messages=100000] [--rate-limit N] [--search-rate-limit N]
        [--window-seconds S] [--latency-ms MS] [--search-cap N] [--tie-block N]

Prints exactly one line, ``Kustomer emulator listening on http://127.0.0.1:PORT token=<token>``, then serves
until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .auth import DEFAULT_TOKEN
from .records import DEFAULT_COUNTS
from .server import KustomerEmulator


def _parse_counts(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep or name.strip() not in DEFAULT_COUNTS:
            raise argparse.ArgumentTypeError(
                f"bad --counts item {part!r}: expected stream=N with stream in {', '.join(DEFAULT_COUNTS)}")
        try:
            out[name.strip()] = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad count in {part!r}") from None
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m integration_tests.emulator", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--seed", default="42")
    p.add_argument("--scale", type=float, default=1.0, help="multiplies the default record counts")
    p.add_argument("--counts", type=_parse_counts, default={}, help="stream=N,... (overrides --scale)")
    p.add_argument("--rate-limit", type=int, default=None)
    p.add_argument("--search-rate-limit", type=int, default=None)
    p.add_argument("--window-seconds", type=float, default=60.0)
    p.add_argument("--latency-ms", type=float, default=0)
    p.add_argument("--search-cap", type=int, default=10_000)
    p.add_argument("--tie-block", type=int, default=3000)
    p.add_argument("--reset-header-mode", choices=("epoch", "seconds"), default="epoch")
    p.add_argument("--token", default=DEFAULT_TOKEN)
    args = p.parse_args(argv)

    seed: object = int(args.seed) if args.seed.lstrip("-").isdigit() else args.seed
    counts = {k: max(0, int(round(v * args.scale))) for k, v in DEFAULT_COUNTS.items()}
    counts.update(args.counts)

    stop = threading.Event()

    def _on_signal(signum, frame):  # noqa: ARG001
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    emu = KustomerEmulator(seed=seed, counts=counts, tie_block=args.tie_block, search_cap=args.search_cap,
                           rate_limit=args.rate_limit, search_rate_limit=args.search_rate_limit,
                           window_seconds=args.window_seconds, latency_ms=args.latency_ms,
                           reset_header_mode=args.reset_header_mode, token=args.token, port=args.port)
    url = emu.start()
    sys.stdout.write(f"Kustomer emulator listening on {url} token={emu.token}\n")
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
