"""Several windows of one search-backed stream in flight, through the installed CLI against the emulator.

A stream's range is split into windows read at once (`source_kustomer.search.SearchWindows`). These runs check what
that must not change: a full refresh delivers every id exactly once, also for a block of records sharing one
updatedAt that straddles a search-cap restart and for the records at the milliseconds where one window ends and the
next starts; an incremental run after a concurrent one re-reads only what changed; a start date years before the
first object spends no search on the empty years. `SearchLog` records each search the emulator answers, so every
test also shows that the case it names happened (several windows, a restart inside the tie, a boundary on data).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

from integration_tests.cli import Run, configured_catalog, run_cli, write_json
from integration_tests.emulator import DEFAULT_TOKEN, KustomerEmulator
from source_kustomer.search import WINDOWS_PER_WORKER

pytestmark = pytest.mark.e2e

NUM_WORKERS = 2
WINDOWS = NUM_WORKERS * WINDOWS_PER_WORKER  # the range holds enough pages for this many
SPAN = timedelta(days=28)  # the test data: from 28 days ago to now
TIE = 1_200  # records sharing one updatedAt, as a bulk update leaves them
BEFORE_TIE = 8_500  # the search-cap restart (after 9,000 records) falls inside the tie
AFTER_TIE = 800


def _at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _time(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def _ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class Search:
    stream: str
    gte: Optional[str]
    lte: Optional[str]
    archive: bool
    start: int
    size: int
    total: int


class SearchLog:
    """Every search the emulator answers while in the `with` block: its stream, updated_at bounds and meta.total."""

    def __init__(self, emulator: KustomerEmulator) -> None:
        self.emulator = emulator
        self.searches: List[Search] = []

    def __enter__(self) -> "SearchLog":
        store = self.emulator.store
        original = type(store).search_page.__get__(store)

        def logged(stream: str, klass: Any, terms: list, or_terms: list, sort: list, start: int, size: int,
                   include_deleted: bool = False) -> tuple:
            total, bodies = original(stream, klass, terms, or_terms, sort, start, size, include_deleted)
            bounds: Dict[str, str] = {}
            for term in terms:  # the connector's criteria first, then the emulator's two-year horizon
                if isinstance(term, tuple) and term[0] == "updated":
                    bounds.setdefault(term[1], term[2])
            self.searches.append(Search(stream, bounds.get("gte"), bounds.get("lte"), "lt" in bounds, start, size, total))
            return total, bodies

        store.search_page = logged  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: Any) -> None:
        del self.emulator.store.search_page

    def of(self, stream: str) -> List[Search]:
        return [s for s in self.searches if s.stream == stream]

    def windows(self, stream: str) -> List[tuple]:
        """The (gte, lte) of each window read (a restart keeps its window's end), in time order."""
        firsts: Dict[str, str] = {}
        for search in self.of(stream):
            if search.size > 1 and not search.archive and search.lte is not None and search.gte is not None:
                firsts[search.lte] = min(firsts.get(search.lte, search.gte), search.gte)
        return sorted(((gte, lte) for lte, gte in firsts.items()), key=lambda w: w[1])


@pytest.fixture(scope="module")
def emulator() -> Iterator[KustomerEmulator]:
    with KustomerEmulator(seed=41, counts={"customers": 2_000}, tie_block=0) as running:
        yield running


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("windows")


@pytest.fixture(scope="module")
def origin() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0) - SPAN


@pytest.fixture(scope="module")
def catalog(emulator: KustomerEmulator, workdir: Path, origin: datetime) -> Dict[str, Any]:
    run = run_cli(["discover", "--config", str(_config(workdir, emulator.url, origin))], workdir)
    assert run.exit_code == 0, run.stdout[-2000:]
    return run.of_type("CATALOG")[0]["catalog"]


def _config(workdir: Path, url: str, start: datetime, **extra: Any) -> Path:
    config = {"api_token": DEFAULT_TOKEN, "start_date": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "api_url": url,
              "num_workers": NUM_WORKERS, **extra}
    return write_json(workdir / "config.json", config)


def _read(workdir: Path, config: Path, catalog: Dict[str, Any], incremental: bool = False, state: Optional[list] = None) -> Run:
    catalog_path = write_json(workdir / "catalog.json", configured_catalog(catalog, ["customers"], incremental=incremental))
    args = ["read", "--config", str(config), "--catalog", str(catalog_path)]
    if state is not None:
        args += ["--state", str(write_json(workdir / "state.json", state))]
    run = run_cli(args, workdir)
    assert run.exit_code == 0 and not run.errors(), run.errors() or run.stderr[-2000:]
    return run


def _since(emulator: KustomerEmulator, start: datetime) -> set:
    return {o["id"] for o in emulator.records("customers") if o["attributes"]["updatedAt"] >= _at(start)}


@pytest.fixture(scope="module")
def full_refresh(emulator: KustomerEmulator, catalog: Dict[str, Any], workdir: Path, origin: datetime) -> tuple:
    """Customers from `origin`: a tie block straddling the first window's search-cap restart, then a record every six
    minutes to now; read as a full refresh, in `WINDOWS` windows."""
    tie_at = origin + timedelta(days=3, hours=12)
    records = [_at(origin + timedelta(seconds=30 * i)) for i in range(BEFORE_TIE)]
    records += [_at(tie_at)] * TIE
    records += [_at(origin + timedelta(days=4, seconds=60 * i)) for i in range(AFTER_TIE)]
    records += [_at(origin + timedelta(days=7, minutes=6 * i)) for i in range(int((SPAN - timedelta(days=7)) / timedelta(minutes=6)))]
    emulator.upsert("customers", [{"attributes": {"name": f"early {i}", "updatedAt": at}} for i, at in enumerate(records)])
    expected = _since(emulator, origin)

    with SearchLog(emulator) as log:
        run = _read(workdir, _config(workdir, emulator.url, origin), catalog)
    return run, log, expected, _at(tie_at)


def test_a_full_refresh_in_several_windows_delivers_every_id_exactly_once(full_refresh):
    run, log, expected, _tie_at = full_refresh
    counts = run.id_counts("customers")

    assert set(counts) == expected
    assert [i for i, n in counts.items() if n > 1] == []
    assert len(log.windows("customers")) == WINDOWS, log.windows("customers")


def test_a_tie_block_straddling_a_search_cap_restart_is_delivered_once(full_refresh):
    run, log, _expected, tie_at = full_refresh
    restarts = [s for s in log.of("customers") if s.gte == tie_at and s.start == 0]

    assert restarts, "no search restarted at the tie's updatedAt: the case is not exercised"
    tie_ids = [r["id"] for r in run.records("customers") if r["updated_at"] == tie_at]
    assert len(tie_ids) == len(set(tie_ids)) == TIE


def test_records_on_both_sides_of_each_window_boundary_are_delivered_once(emulator, catalog, workdir, origin, full_refresh):
    # A range with a fixed end: the gap before the saved state's only interval, [origin, end]. (A sync's own range
    # ends when it starts, so where its windows start cannot be known beforehand.)
    end = origin + timedelta(days=20)
    saved = {"start": _at(end), "end": _at(datetime.now(timezone.utc)), "most_recent_cursor_value": _at(end)}
    state = [{"type": "STREAM", "stream": {"stream_descriptor": {"name": "customers"},
                                           "stream_state": {"state_type": "date-range", "slices": [saved]}}}]
    # SearchWindows: from the earliest object (origin) to the range's end, `WINDOWS` steps of equal time; a record at
    # every millisecond around each
    around = [_ms(origin + (end - origin) * i / WINDOWS) + timedelta(milliseconds=n) for i in range(1, WINDOWS) for n in range(-5, 6)]
    emulator.upsert("customers", [{"attributes": {"name": f"boundary {i}", "updatedAt": _at(at)}} for i, at in enumerate(around)])
    expected = {o["id"] for o in emulator.records("customers") if _at(origin) <= o["attributes"]["updatedAt"] < _at(end)}

    with SearchLog(emulator) as log:
        run = _read(workdir, _config(workdir, emulator.url, origin), catalog, incremental=True, state=state)

    delivered = run.id_counts("customers")
    assert expected <= set(delivered) and max(delivered.values()) == 1
    windows = [w for w in log.windows("customers") if w[1] <= _at(end)]
    assert len(windows) == WINDOWS, windows
    for (_start, last), (first, _end) in zip(windows, windows[1:]):
        assert _time(first) - _time(last) == timedelta(milliseconds=1), (last, first)
        # the boundary falls on data: records at the window's last millisecond and at the next window's first
        for at in (last, first):
            stored = sorted(o["id"] for o in emulator.records("customers") if o["attributes"]["updatedAt"] == at)
            assert stored and sorted(r["id"] for r in run.records("customers") if r["updated_at"] == at) == stored, at


def test_an_incremental_run_after_a_concurrent_one_re_reads_only_what_changed(emulator, catalog, workdir, origin, full_refresh):
    config = _config(workdir, emulator.url, origin)
    with SearchLog(emulator) as first_log:
        first = _read(workdir, config, catalog, incremental=True)
    assert set(first.id_counts("customers")) == _since(emulator, origin)
    assert len(first_log.windows("customers")) == WINDOWS

    existing = sorted(_since(emulator, origin))[:: len(_since(emulator, origin)) // 5][:5]
    changed = {o["id"] for o in emulator.upsert("customers", [{"id": i, "attributes": {"name": "changed"}} for i in existing])}
    changed |= {o["id"] for o in emulator.upsert("customers", [{"attributes": {"name": "brand new"}}])}
    with SearchLog(emulator) as second_log:
        second = _read(workdir, config, catalog, incremental=True, state=first.state_messages())

    assert set(second.id_counts("customers")) == changed
    assert len(second_log.of("customers")) <= 2, second_log.of("customers")  # the plan's one-record search, one page

    with SearchLog(emulator) as third_log:
        third = _read(workdir, config, catalog, incremental=True, state=second.state_messages())
    assert third.id_counts("customers") == {}
    assert len(third_log.of("customers")) <= 2, third_log.of("customers")


def test_a_start_date_seven_years_before_the_first_object_spends_no_search_on_the_empty_years(emulator, catalog, workdir, origin, full_refresh):
    start = datetime(2019, 1, 1, tzinfo=timezone.utc)  # the emulator's first customers are from 2025

    with SearchLog(emulator) as log:
        run = _read(workdir, _config(workdir, emulator.url, start), catalog)

    assert set(run.id_counts("customers")) == _since(emulator, start)
    assert max(run.id_counts("customers").values()) == 1
    assert len(log.windows("customers")) > 1  # several windows in flight
    empty = [s for s in log.of("customers") if s.total == 0]
    # only the part older than search's two years: archive search, then search's margin of a few days
    assert len(empty) <= 2, empty
