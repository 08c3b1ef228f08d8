"""A busy org: objects updated while a window's pages are read, through the installed CLI against the emulator.

With the emulator's `churn_updates_per_page`, every search page after a first one is computed after that many objects
of the same search, placed before the page, were updated (their updatedAt becomes now, past the window's end, the
sync's start): as many records slide from the head of the page onto the page already read. A page counting fewer
results than the page before is followed by one search of the gap between the two
(`source_kustomer.search.SearchRecordExtractor`): a full refresh still delivers every id that was in range when it
started, exactly once, and the stream's proof counts what those searches read. Without churn no such search is made.
`SearchLog` records each search the emulator answers: a window's pages share its `lte`, a gap's search ends at a
record's updatedAt.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from integration_tests.cli import Run, configured_catalog, run_cli, write_json
from integration_tests.emulator import DEFAULT_TOKEN, KustomerEmulator
from integration_tests.expected import ids_since
from integration_tests.test_progress import logs, number, proofs, warnings_of_shortfall
from integration_tests.test_search_windows import Search, SearchLog

pytestmark = pytest.mark.e2e

START = "2025-01-01T00:00:00Z"  # before every generated customer
CUSTOMERS = 6_000  # three windows of about four pages with two workers (`SearchWindows`)
NUM_WORKERS = 2
CHURN = 3
REPAIR = re.compile(r"^customers: Kustomer's count for the window .* fell by (?P<fell>\d+) between pages \d+ and \d+; "
                    r"a search of the gap between them \(.*\) recovered (?P<recovered>\d+) records? that slid past")
RECOVERED = re.compile(r"; (?P<recovered>[\d,]+) read by a search of the gap between two pages")


@pytest.fixture(scope="module")
def emulator() -> Iterator[KustomerEmulator]:
    with KustomerEmulator(seed=29, counts={"customers": CUSTOMERS}, tie_block=0) as running:
        yield running


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("page_gaps")


@pytest.fixture(scope="module")
def config(emulator: KustomerEmulator, workdir: Path) -> Path:
    return write_json(workdir / "config.json", {"api_token": DEFAULT_TOKEN, "start_date": START, "api_url": emulator.url,
                                                "num_workers": NUM_WORKERS})


@pytest.fixture(scope="module")
def catalog(config: Path, workdir: Path) -> Dict[str, Any]:
    run = run_cli(["discover", "--config", str(config)], workdir)
    assert run.exit_code == 0, run.stdout[-2000:]
    return run.of_type("CATALOG")[0]["catalog"]


def full_refresh(emulator: KustomerEmulator, config: Path, catalog: Dict[str, Any], workdir: Path, churn: int) -> Tuple[Run, List[Search], set]:
    """A full refresh of customers with `churn` objects updated before each search page after a first one: the run,
    the customers' searches, and the ids in range when it started."""
    expected = ids_since(emulator, "customers", START)
    catalog_path = write_json(workdir / "catalog.json", configured_catalog(catalog, ["customers"]))
    emulator.configure(churn_updates_per_page=churn)
    try:
        with SearchLog(emulator) as log:
            run = run_cli(["read", "--config", str(config), "--catalog", str(catalog_path)], workdir)
    finally:
        emulator.configure(churn_updates_per_page=0)
    assert run.exit_code == 0 and not run.errors(), run.errors() or run.stderr[-2000:]
    return run, log.of("customers"), expected


def window_ends(searches: List[Search]) -> set:
    """The `lte` of each window: every window here has more than one page."""
    return {search.lte for search in searches if search.start > 0}


def gap_searches(searches: List[Search]) -> List[Search]:
    ends = window_ends(searches)
    return [search for search in searches if search.size > 1 and search.lte not in ends]


@pytest.fixture(scope="module")
def churned(emulator, config, catalog, workdir) -> Tuple[Run, List[Search], set]:
    return full_refresh(emulator, config, catalog, workdir, CHURN)


def test_a_full_refresh_while_objects_are_updated_delivers_every_id_in_range_at_its_start_exactly_once(churned, emulator):
    run, searches, expected = churned
    counts = run.id_counts("customers")

    assert len(expected) == CUSTOMERS
    assert set(counts) == expected, sorted(expected - set(counts))[:10]
    assert [i for i, n in counts.items() if n > 1] == []
    # the churn happened: customers updated during the run, past its range, were delivered as they were before
    latest_delivered = max(r["updated_at"] for r in run.records("customers"))
    assert [o for o in emulator.records("customers") if o["attributes"]["updatedAt"] > latest_delivered]
    assert len(window_ends(searches)) == 3, window_ends(searches)


def test_each_page_boundary_where_records_left_is_searched_once_and_the_proof_counts_what_those_searches_read(churned):
    run, searches, _expected = churned
    repairs = [m for m in map(REPAIR.match, logs(run, "INFO")) if m]
    gaps = gap_searches(searches)

    assert repairs and len(repairs) == len(gaps), (len(repairs), gaps)
    pages = Counter(search.lte for search in searches if search.size > 1 and search.lte in window_ends(searches))
    assert len(repairs) == sum(count - 1 for count in pages.values())  # every page but a window's first
    assert all(int(m["fell"]) == CHURN for m in repairs), [m.group(0) for m in repairs]
    # as many records slid as left, but past a window's last page there may be fewer than that to slide
    recovered = [int(m["recovered"]) for m in repairs]
    assert max(recovered) == CHURN and sum(1 for n in recovered if n < CHURN) <= len(window_ends(searches)), recovered
    line = proofs(run)["customers"]
    assert line["counted"] == line["unique"] == CUSTOMERS, line["line"]
    assert number(RECOVERED.search(line["line"])["recovered"]) == sum(recovered), line["line"]
    # a leaver with no record after the page to slide (past a window's last records) is counted as left, as ever
    unslid = sum(int(m["fell"]) - int(m["recovered"]) for m in repairs)
    assert (f"; {unslid:,} left the range during the sync" in line["line"]) if unslid else ("left the range during the sync" not in line["line"]), line["line"]
    assert line["line"].endswith(": complete."), line["line"]
    assert not warnings_of_shortfall(run)


def test_without_churn_no_search_is_added_to_the_pages(emulator, config, catalog, workdir, churned):
    run, searches, expected = full_refresh(emulator, config, catalog, workdir, 0)

    assert set(run.id_counts("customers")) == expected and max(run.id_counts("customers").values()) == 1
    assert not gap_searches(searches) and not [m for m in map(REPAIR.match, logs(run, "INFO")) if m]
    pages = [search for search in searches if search.size > 1]
    per_window = Counter(search.lte for search in pages)
    totals = {search.lte: search.total for search in pages if search.start == 0}
    assert len(per_window) == 3 and all(count == -(-totals[end] // 500) for end, count in per_window.items()), per_window
    assert proofs(run)["customers"]["line"].endswith(": complete.")
