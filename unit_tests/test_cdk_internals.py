"""The connector's reliances on airbyte-cdk internals still apply (source_kustomer/cdk_internals.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, List

from airbyte_cdk.models import SyncMode, Type
from airbyte_cdk.sources.declarative.parsers.model_to_component_factory import ModelToComponentFactory
from airbyte_cdk.sources.declarative.retrievers.pagination_tracker import PaginationTracker

from source_kustomer import cdk_internals
from source_kustomer.config import normalize_config
from source_kustomer.search import SearchWindows
from source_kustomer.source import SourceKustomer
from unit_tests.builders import ConfigBuilder, catalog, kustomer_object
from unit_tests.conftest import read_source

BASE = datetime(2025, 3, 1, tzinfo=timezone.utc)


def _ts(seconds: int) -> str:
    return (BASE + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_the_patches_apply_to_the_cdk_methods_they_replace():
    SourceKustomer(config=ConfigBuilder().build())

    assert cdk_internals.installed()
    assert PaginationTracker.reduce_slice_range_if_possible is cdk_internals.checkpointing_reduce
    assert PaginationTracker.observe is cdk_internals.checkpointing_observe
    assert ModelToComponentFactory._create_pagination_tracker_factory is cdk_internals.tracker_factory_knowing_the_stream_cursor
    # what the patches read of the CDK's objects is still there
    assert cdk_internals.ORIGINAL_REDUCE.__qualname__ == "PaginationTracker.reduce_slice_range_if_possible"
    assert cdk_internals.ORIGINAL_OBSERVE.__qualname__ == "PaginationTracker.observe"
    assert cdk_internals.ORIGINAL_TRACKER_FACTORY.__qualname__ == "ModelToComponentFactory._create_pagination_tracker_factory"


def test_the_source_config_is_the_one_the_streams_are_built_from():
    source = SourceKustomer(config=ConfigBuilder().set("rate_limit_share", 40).build())

    assert cdk_internals.source_config(source)["rate_limit_share"] == 40
    with cdk_internals.streams_built_from(source, {**ConfigBuilder().build(), "rate_limit_share": 60}):
        assert cdk_internals.source_config(source)["rate_limit_share"] == 60
    assert cdk_internals.source_config(source)["rate_limit_share"] == 40


def test_the_cdk_migrates_the_config_as_saved_and_the_streams_are_built_from_the_migrated_one(monkeypatch, capsys):
    from source_kustomer import config as config_module
    from source_kustomer.search import SYNC_STATES

    migrate = config_module.StartDateAsDateTime.transform

    def and_num_workers(self, config):  # a migration of another field, to see whose config the streams get
        migrate(self, config)
        config["num_workers"] = 3

    monkeypatch.setattr(config_module.StartDateAsDateTime, "transform", and_num_workers)
    saved = ConfigBuilder().with_start_date("01/31/2025").build()
    given = normalize_config(saved)

    source = SourceKustomer(config=given)

    # `_migrate_and_transform_config` ran the manifest's migration on the config as saved and printed the result
    (control,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith('{"type":"CONTROL"')]
    assert '"start_date":"2025-01-31T00:00:00Z"' in control and '"num_workers":3' in control and SYNC_STATES not in control
    # and the streams are built from the migrated config, validated, with the sync context
    built = cdk_internals.source_config(source)
    assert isinstance(built, config_module.NormalizedConfig) and built.saved == {**saved, "start_date": "2025-01-31T00:00:00Z", "num_workers": 3}
    assert built["num_workers"] == 3 and built["start_date"] == "2025-01-31T00:00:00Z" and SYNC_STATES in built


def test_a_config_no_migration_changes_is_the_one_the_streams_are_built_from_still_marked_validated(capsys):
    given = normalize_config(ConfigBuilder().build())

    source = SourceKustomer(config=given)

    assert "CONTROL" not in capsys.readouterr().out
    built = cdk_internals.source_config(source)
    assert type(built) is type(given) and {k: v for k, v in built.items() if not k.startswith("_kustomer")} == given


def test_a_first_sync_saves_its_state_at_every_search_cap_restart_after_the_records_before_it(kustomer):
    kustomer.add("customers", [kustomer_object("customer", f"c{i:05d}", _ts(i)) for i in range(25_000)])

    output = read_source(ConfigBuilder().set("num_workers", 1).build(), catalog("customers", sync_mode=SyncMode.incremental))

    checkpoints = _checkpoints_never_ahead_of_the_records(output)
    # 25,000 records: restarts after 9,000 and 18,000, each a state, then the final one
    assert len([v for v in checkpoints if v < _ts(24_999)]) >= 2, checkpoints
    assert checkpoints == sorted(checkpoints)
    assert len({r.record.data["id"] for r in output.records}) == 25_000


def test_a_window_saves_its_state_every_thousand_records_between_restarts(kustomer):
    kustomer.add("customers", [kustomer_object("customer", f"c{i:05d}", _ts(i)) for i in range(5_000)])

    output = read_source(ConfigBuilder().set("num_workers", 1).build(), catalog("customers", sync_mode=SyncMode.incremental))

    checkpoints = _checkpoints_never_ahead_of_the_records(output)
    # no search-cap restart in 5,000 records: a state after each 1,000 (`checkpointing_observe`), then the final one
    assert len([v for v in checkpoints if v < _ts(4_999)]) >= 5_000 // cdk_internals.CHECKPOINT_EVERY - 1, checkpoints
    assert checkpoints == sorted(checkpoints)


def test_each_search_stream_reads_its_range_in_windows_and_saves_every_finished_one(kustomer):
    config = normalize_config(ConfigBuilder().build())
    streams = {stream.name: stream for stream in SourceKustomer(config=config).streams(config)}

    for name in ("customers", "conversations", "messages", "notes", "companies", "kobjects"):
        slicer = streams[name]._stream_partition_generator._stream_slicer
        assert isinstance(slicer, SearchWindows), name  # `read_in_windows` applied
        assert slicer._connector_state_converter._is_sequential_state is False, name  # date-range state
        retriever = streams[name]._stream_partition_generator._partition_factory._retriever
        assert retriever.record_selector.extractor.search_requester is retriever.requester, name  # a gap's searches
    assert not isinstance(streams["users"]._stream_partition_generator._stream_slicer, SearchWindows)


def _checkpoints_never_ahead_of_the_records(output: Any) -> List[str]:
    """The time up to which each state says everything is read (the end of its first interval), checking that no
    record written after a state is at or before it."""
    checkpoints: List[str] = []
    for message in output.records_and_state_messages:
        if message.type == Type.RECORD:
            # a state never gets ahead of the records written before it: no later record is at or before a checkpoint
            assert all(message.record.data["updated_at"] > value for value in checkpoints), message.record.data["id"]
        else:
            checkpoints.append(message.state.stream.stream_state.__dict__["slices"][0]["end"])
    return checkpoints
