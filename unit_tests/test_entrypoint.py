"""The `source-kustomer` console script: it runs with the config, catalog and state of its command line, the packaged
manifest, and says which file is wrong when one cannot be read."""

import json
import platform
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import requests

from airbyte_cdk.models import AirbyteStateMessageSerializer, ConfiguredAirbyteCatalogSerializer, SyncMode
from airbyte_cdk.test.state_builder import StateBuilder
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_kustomer import cdk_internals
from source_kustomer import run as run_module
from source_kustomer.config import normalize_config
from source_kustomer.run import run
from source_kustomer.source import SourceKustomer
from integration_tests.cli import Run
from unit_tests.builders import TOKEN, ConfigBuilder, FakeKustomer, catalog, kustomer_object, search_start_for

EU_API_URL = "https://api.prod2.kustomerapp.com"


class Cli:
    """Writes the command line's files and runs the console script in-process, returning its parsed stdout."""

    def __init__(self, directory: Path, capfd) -> None:  # type: ignore[no-untyped-def]
        self.directory = directory
        self.capfd = capfd

    def file(self, name: str, content: Any) -> str:
        path = self.directory / name
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        return str(path)

    def config(self, config: Optional[Dict[str, Any]] = None) -> str:
        return self.file("config.json", config or ConfigBuilder().build())

    def catalog(self, *streams: str, sync_mode: SyncMode = SyncMode.full_refresh) -> str:
        return self.file("catalog.json", ConfiguredAirbyteCatalogSerializer.dump(catalog(*streams, sync_mode=sync_mode)))

    def state(self, stream: str, state: Dict[str, Any]) -> str:
        return self.file("state.json", [AirbyteStateMessageSerializer.dump(m) for m in StateBuilder().with_stream_state(stream, state).build()])

    def run(self, *args: str, exit_code: int = 0) -> Run:
        if exit_code:
            with pytest.raises(SystemExit) as exited:
                run(list(args))
            assert exited.value.code == exit_code
        else:
            run(list(args))
        captured = self.capfd.readouterr()
        assert TOKEN not in outside_saved_configs(captured.out) and TOKEN not in captured.err
        return Run.of(exit_code, captured.out, captured.err)


def outside_saved_configs(stdout: str) -> str:
    """stdout without the API token of the configs CONTROL messages carry: the platform saves the whole config it
    receives there, secrets included (the CDK prints it as it is, as Airbyte's connectors do)."""
    lines = []
    for line in stdout.splitlines():
        message = json.loads(line) if line.startswith('{"type":"CONTROL"') else None
        if message is not None:
            message["control"]["connectorConfig"]["config"].pop("api_token", None)
            line = json.dumps(message)
        lines.append(line)
    return "\n".join(lines)


@pytest.fixture
def cli(tmp_path, capfd) -> Cli:
    return Cli(tmp_path, capfd)


# --- spec and the packaged manifest ---------------------------------------------------------------------------------


def test_spec_works_without_config(cli):
    (spec,) = cli.run("spec").of_type("SPEC")

    specification = spec["spec"]["connectionSpecification"]
    assert specification["title"] == "Kustomer Source Spec"
    assert specification["required"] == ["api_token", "start_date"]
    assert specification["properties"]["api_token"]["airbyte_secret"] is True


def test_the_packaged_manifest_is_used_even_when_the_current_directory_holds_another(cli, kustomer, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "manifest.yaml").write_text("version: 0.0.1\ntype: DeclarativeSource\nspec:\n  connection_specification:\n    title: Impostor\n")
    monkeypatch.chdir(elsewhere)
    kustomer.add("tags", [kustomer_object("tag", "t1", "2025-03-01T00:00:00.000Z")])

    (spec,) = cli.run("spec").of_type("SPEC")
    output = cli.run("read", "--config", cli.config(), "--catalog", cli.catalog("tags"))

    assert spec["spec"]["connectionSpecification"]["title"] == "Kustomer Source Spec"
    assert [r["id"] for r in output.records("tags")] == ["t1"]


# --- the command line's files are the ones used ---------------------------------------------------------------------


def test_read_syncs_only_the_streams_of_the_catalog_given(cli, kustomer):
    kustomer.add("tags", [kustomer_object("tag", "t1", "2025-03-01T00:00:00.000Z")])
    kustomer.add("users", [kustomer_object("user", "u1", "2025-03-01T00:00:00.000Z")])

    output = cli.run("read", "--config", cli.config(), "--catalog", cli.catalog("tags"))

    assert {m["record"]["stream"] for m in output.of_type("RECORD")} == {"tags"}
    assert {r["stream"] for r in kustomer.list_requests} == {"tags"}
    assert kustomer.search_requests == []


def test_read_sends_requests_to_the_api_url_and_page_size_of_the_config_given(cli, requests_mock):
    eu = FakeKustomer(requests_mock, api_url=EU_API_URL)
    eu.add("teams", [kustomer_object("team", "t1", "2025-03-01T00:00:00.000Z")])
    config = cli.config(ConfigBuilder().with_api_url(EU_API_URL + "/").set("page_size", 42).build())

    output = cli.run("read", "--config", config, "--catalog", cli.catalog("teams"))

    assert [r["id"] for r in output.records("teams")] == ["t1"]
    assert {r.netloc for r in requests_mock.request_history} == {"api.prod2.kustomerapp.com"}
    assert eu.list_requests == [{"stream": "teams", "page": 1, "page_size": 42, "asked": 42, "status": None}]


def test_read_starts_the_search_window_at_the_state_given(cli, kustomer):
    kustomer.add("notes", [kustomer_object("note", "old", "2025-03-01T00:00:00.000Z"), kustomer_object("note", "new", "2025-04-02T00:00:00.000Z")])
    state = cli.state("notes", {"updated_at": "2025-04-01T00:00:00.000Z"})

    output = cli.run("read", "--config", cli.config(), "--catalog", cli.catalog("notes", sync_mode=SyncMode.incremental), "--state", state)

    assert [r["id"] for r in output.records("notes")] == ["new"]
    starts = [r["body"]["and"][0]["note_updated_at"]["gte"] for r in kustomer.search_requests]
    assert min(starts) == search_start_for("2025-04-01T00:00:00.000Z")


def test_read_without_state_starts_the_search_window_at_start_date(cli, kustomer):
    config = cli.config(ConfigBuilder().with_start_date("02/15/2025").build())

    cli.run("read", "--config", config, "--catalog", cli.catalog("notes", sync_mode=SyncMode.incremental))

    assert min(r["body"]["and"][0]["note_updated_at"]["gte"] for r in kustomer.search_requests) == "2025-02-15T00:00:00.000Z"


# --- a saved config in an older form: migrated, saved by the platform, and used ------------------------------------


@pytest.mark.parametrize("saved,migrated", [("01/31/2025", "2025-01-31T00:00:00Z"), ("2025-01-31", "2025-01-31T00:00:00Z")])
def test_a_date_only_start_date_is_migrated_and_sent_to_the_platform_before_the_sync_that_uses_it(cli, kustomer, saved, migrated):
    kustomer.add("notes", [kustomer_object("note", "n1", "2025-03-01T00:00:00.000Z")])
    given = ConfigBuilder().with_start_date(saved).with_api_url("https://api.kustomerapp.com/").build()
    config = cli.config(given)

    output = cli.run("read", "--config", config, "--catalog", cli.catalog("notes", sync_mode=SyncMode.incremental))

    (control,) = output.of_type("CONTROL")
    assert output.messages[0] is control  # before anything else, even if the sync fails later
    assert control["control"]["type"] == "CONNECTOR_CONFIG"
    # The config as saved with start_date migrated: no default spelled out, nothing the source adds for the sync.
    assert control["control"]["connectorConfig"]["config"] == {**given, "start_date": migrated}
    assert json.loads(Path(config).read_text()) == {**given, "start_date": migrated}  # the --config file rewritten
    assert [r["id"] for r in output.records("notes")] == ["n1"]
    assert min(r["body"]["and"][0]["note_updated_at"]["gte"] for r in kustomer.search_requests) == "2025-01-31T00:00:00.000Z"


def test_a_config_the_migration_leaves_as_it_is_sends_no_control_message_and_keeps_its_file(cli, kustomer):
    config = cli.config(ConfigBuilder().with_start_date("2025-01-31T00:00:00Z").build())
    before = Path(config).read_text()

    output = cli.run("check", "--config", config)

    assert output.of_type("CONNECTION_STATUS") and output.of_type("CONTROL") == []
    assert Path(config).read_text() == before


@pytest.mark.parametrize("start_date", ["02/30/2025", "2025-1-31", "31/01/2025"])
def test_an_invalid_start_date_is_refused_in_the_validations_words_and_neither_migrated_nor_saved(cli, kustomer, start_date):
    config = cli.config(ConfigBuilder().with_start_date(start_date).build())
    before = Path(config).read_text()

    output = cli.run("discover", "--config", config, exit_code=1)

    (error,) = output.errors()
    assert "`start_date`" in error["message"] and repr(start_date) in error["message"]
    assert output.of_type("CONTROL") == []
    assert Path(config).read_text() == before
    assert kustomer.mocker.request_history == []


# --- files that cannot be used --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind,content",
    [
        ("config", "{'api_token': 'not json'}"),
        ("config", None),
        ("catalog", "{not json"),
        ("catalog", {"streams": "users"}),
        ("catalog", None),
        ("state", "[{"),
        ("state", [{"type": "STREAM", "stream": "notes"}]),
        ("state", None),
    ],
)
def test_a_file_that_cannot_be_read_gives_a_trace_naming_it_and_exit_code_1(cli, kustomer, kind, content):
    paths = {"config": cli.config(), "catalog": cli.catalog("tags"), "state": cli.state("tags", {"updated_at": "2025-03-01T00:00:00.000Z"})}
    paths[kind] = str(cli.directory / f"broken-{kind}.json") if content is None else cli.file(f"broken-{kind}.json", content)

    output = cli.run("read", "--config", paths["config"], "--catalog", paths["catalog"], "--state", paths["state"], exit_code=1)

    (error,) = output.errors()
    assert paths[kind] in error["message"] and f"The {kind} file" in error["message"]
    assert error["failure_type"] == "config_error"
    assert output.of_type("RECORD") == []
    assert kustomer.mocker.request_history == []


def test_a_config_with_an_invalid_field_gives_a_trace_naming_the_field_and_exit_code_1(cli, kustomer):
    config = cli.config(ConfigBuilder().with_api_url("https://kustomerapp.com.evil.com").build())

    output = cli.run("discover", "--config", config, exit_code=1)

    (error,) = output.errors()
    assert "`api_url`" in error["message"] and error["failure_type"] == "config_error"
    assert kustomer.mocker.request_history == []


@pytest.mark.parametrize(
    "answer,says,failure_type",
    [
        ({"exc": requests.exceptions.ConnectionError}, "Could not reach Kustomer at https://api.kustomerapp.com", "transient_error"),
        ({"status_code": 200, "text": "<html>Welcome to nginx</html>"}, "is not Kustomer's API. Check `api_url`", "config_error"),
        ({"status_code": 401, "json": {"errors": [{"detail": "Invalid API key"}]}}, "Kustomer rejected the API token (HTTP 401)", "config_error"),
    ],
)
def test_discover_fails_at_once_with_the_checks_reason_when_kustomer_does_not_answer_as_kustomer(cli, kustomer, answer, says, failure_type):
    kustomer.mocker.get("https://api.kustomerapp.com/v1/auth/tokens/current", **answer)

    # In-process the failure propagates; the console script's exception hook prints it as an error trace
    # (integration_tests/test_resilience.py runs that).
    with pytest.raises(AirbyteTracedException) as raised:
        run(["discover", "--config", cli.config()])

    assert says in raised.value.message and raised.value.failure_type.value == failure_type
    assert "CATALOG" not in cli.capfd.readouterr().out
    assert [r.path for r in kustomer.mocker.request_history] == ["/v1/auth/tokens/current"]  # no metadata retries


def test_discover_asks_for_the_token_once_before_the_schemas(cli, kustomer):
    output = cli.run("discover", "--config", cli.config())

    assert len(output.of_type("CATALOG")) == 1
    paths = [request.path for request in kustomer.mocker.request_history]
    assert paths[0] == "/v1/auth/tokens/current"
    assert paths.count("/v1/auth/tokens/current") == 1, paths
    assert len(paths) > 1  # the schemas' metadata came after the token


@pytest.mark.parametrize("content", ["{'api_token': 'not json'}", None])
def test_check_with_a_config_file_that_cannot_be_read_fails_naming_it(cli, kustomer, content):
    path = str(cli.directory / "missing.json") if content is None else cli.file("broken.json", content)

    output = cli.run("check", "--config", path)

    (status,) = output.of_type("CONNECTION_STATUS")
    assert status["connectionStatus"]["status"] == "FAILED"
    assert path in status["connectionStatus"]["message"]
    assert kustomer.mocker.request_history == []


def test_a_legacy_state_object_is_refused_with_the_expected_shape(cli, kustomer):
    state = cli.file("legacy-state.json", {"customers": {"updated_at": "2025-03-01T00:00:00.000Z"}})

    output = cli.run("read", "--config", cli.config(), "--catalog", cli.catalog("customers"), "--state", state, exit_code=1)

    (error,) = output.errors()
    assert state in error["message"] and "legacy" in error["message"]
    assert '"type": "STREAM"' in error["message"]
    assert kustomer.mocker.request_history == []


@pytest.mark.parametrize("empty", ["[]", "{}"])
def test_an_empty_state_file_means_a_first_sync(cli, kustomer, empty):
    output = cli.run(
        "read", "--config", cli.config(), "--catalog", cli.catalog("notes", sync_mode=SyncMode.incremental), "--state", cli.file("state.json", empty)
    )

    assert output.errors() == []
    assert min(r["body"]["and"][0]["note_updated_at"]["gte"] for r in kustomer.search_requests) == "2025-01-01T00:00:00.000Z"


def test_the_record_queue_holds_half_a_page_instead_of_the_cdks_ten_thousand_records():
    source = SourceKustomer(config=normalize_config(ConfigBuilder().build()))

    assert cdk_internals.record_queue_size(source) == 250


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc arenas are a glibc setting")
def test_the_cli_tunes_malloc_before_it_runs_a_command(cli, kustomer, monkeypatch):
    calls = []
    real = run_module.tune_malloc
    monkeypatch.setattr(run_module, "tune_malloc", lambda: calls.append(1) or real())

    cli.run("spec")

    assert calls == [1]
    assert real() is True  # glibc took M_ARENA_MAX, M_MMAP_THRESHOLD and M_TRIM_THRESHOLD


def test_the_cli_gives_threads_longer_turns_before_it_runs_a_command(cli, kustomer, monkeypatch):
    calls = []
    real = run_module.tune_threads
    monkeypatch.setattr(run_module, "tune_threads", lambda: calls.append(1) or real())
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.005)  # Python's default (an earlier command of this process may have tuned it)
    try:
        cli.run("spec")

        assert calls == [1]
        assert sys.getswitchinterval() == pytest.approx(run_module.SWITCH_INTERVAL_SECONDS)
    finally:
        sys.setswitchinterval(before)


@pytest.mark.parametrize("command", ["check", "read"])
def test_the_config_is_validated_once_per_process(cli, kustomer, monkeypatch, command):
    from source_kustomer import config as config_module

    calls = []
    validate = config_module.KustomerConfig.model_validate
    monkeypatch.setattr(config_module.KustomerConfig, "model_validate", lambda raw: calls.append(1) or validate(raw))
    kustomer.add("tags", [kustomer_object("tag", "t1", "2025-03-01T00:00:00.000Z")])
    args = ["--config", cli.config()] + (["--catalog", cli.catalog("tags")] if command == "read" else [])

    output = cli.run(command, *args)

    assert output.of_type("RECORD" if command == "read" else "CONNECTION_STATUS")
    assert len(calls) == 1
