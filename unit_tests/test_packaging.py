"""The connector ships as an Airbyte connector: its manifest is valid for the CDK, and the packaging files agree.

Everything here reads the real files of the repository (manifest, metadata.yaml, Dockerfile, docs, acceptance-test
config, integration_tests catalogs and state), so a stream added, renamed or removed in one place fails until the
others follow.
"""

from __future__ import annotations

import copy
import importlib.metadata
import json
import re
import tomllib
import uuid
import warnings
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Set

import pytest
import requests_mock
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for

from airbyte_cdk.sources.declarative.concurrent_declarative_source import ConcurrentDeclarativeSource
from airbyte_cdk.sources.declarative.parsers.manifest_component_transformer import ManifestComponentTransformer
from airbyte_cdk.sources.declarative.parsers.manifest_reference_resolver import ManifestReferenceResolver
from airbyte_cdk.sources.source import ExperimentalClassWarning
from airbyte_cdk.test.models.scenario import ConnectorTestScenario, entry_key_problems

from source_kustomer.config import normalize_config
from source_kustomer.manifest import stream_schema
from source_kustomer.source import SourceKustomer, load_manifest
from unit_tests.builders import FakeKustomer, klass

REPO = Path(__file__).resolve().parents[1]
CONFIG = {"api_token": "test-token", "start_date": "2025-01-01T00:00:00Z"}


def read_yaml(relative: str) -> Any:
    return yaml.safe_load((REPO / relative).read_text(encoding="utf-8"))


def read_json(relative: str) -> Any:
    return json.loads((REPO / relative).read_text(encoding="utf-8"))


def resolved(manifest: Dict[str, Any]) -> Dict[str, Any]:
    """The manifest as ConcurrentDeclarativeSource validates it: `$ref`s resolved, types and parameters propagated."""
    manifest = copy.deepcopy(manifest)
    manifest.setdefault("type", "DeclarativeSource")
    return ManifestComponentTransformer().propagate_types_and_parameters(
        "", ManifestReferenceResolver().preprocess_manifest(manifest), {}
    )


def schema_errors(manifest: Dict[str, Any]) -> List[str]:
    component_schema = yaml.safe_load(
        (resources.files("airbyte_cdk") / "sources/declarative/declarative_component_schema.yaml").read_text(encoding="utf-8")
    )
    validator = validator_for(component_schema)(component_schema)
    errors = list(validator.iter_errors(resolved(manifest)))
    best = best_match(errors)
    return [f"{'/'.join(map(str, best.absolute_path))}: {best.message}"] + [e.message for e in errors[:5]] if best else []


CDK_CACHE_SESSION = "`cache_name` cannot be set after backend initialization"


def deprecations(build: Callable[[], ConcurrentDeclarativeSource]) -> List[str]:
    """Deprecation warnings raised while a source is built with its streams (the CDK builds them in `streams()`)."""
    config = normalize_config(CONFIG)
    with warnings.catch_warnings(record=True) as caught, requests_mock.Mocker() as mocker:
        mocker.get(requests_mock.ANY, json={"data": [], "links": {}})
        # one klass, so that a per-klass stream is built too
        FakeKustomer(mocker).add("klasses", [klass("k1", "order")])
        warnings.simplefilter("always", DeprecationWarning)
        source = build()
        source.streams(config=config)
    # The CDK marks its components for streams found at run time (HttpComponentsResolver) experimental with a
    # DeprecationWarning subclass: that is no deprecation.
    # The CDK caches the responses of a substream's parent stream (sla_versions reads the SLAs) through requests_cache,
    # which warns about the CDK's own way of building its session: no component of the manifest is deprecated there.
    warned = [
        str(w.message)
        for w in caught
        if issubclass(w.category, DeprecationWarning) and not issubclass(w.category, ExperimentalClassWarning) and not str(w.message).startswith(CDK_CACHE_SESSION)
    ]
    return warned + [f"(builder log) {log.message}" for log in source.deprecation_warnings()]


@pytest.fixture(scope="module")
def manifest() -> Dict[str, Any]:
    return load_manifest()


@pytest.fixture(scope="module")
def streams(manifest) -> Dict[str, Dict[str, Any]]:
    """The manifest's streams by name, resolved."""
    return {stream["name"]: stream for stream in resolved(manifest)["streams"]}


@pytest.fixture(scope="module")
def metadata() -> Dict[str, Any]:
    return read_yaml("metadata.yaml")["data"]


@pytest.fixture(scope="module")
def docs() -> str:
    return (REPO / "docs" / "kustomer.md").read_text(encoding="utf-8")


def incremental(stream: Mapping[str, Any]) -> bool:
    return bool(stream.get("incremental_sync"))


# --- the manifest, as the CDK sees it ---------------------------------------------------------------------------


def test_manifest_validates_against_the_cdks_declarative_component_schema(manifest):
    assert schema_errors(manifest) == []


def test_schema_validation_catches_a_misspelt_component_type(manifest):
    broken = copy.deepcopy(manifest)
    broken["definitions"]["paginator"]["pagination_strategy"]["type"] = "CursorPaginaton"

    assert schema_errors(broken)


def test_building_the_source_and_its_streams_emits_no_deprecation_warning():
    assert deprecations(lambda: SourceKustomer(config=normalize_config(CONFIG))) == []


def test_the_deprecation_check_catches_a_deprecated_component(manifest):
    deprecated = copy.deepcopy(manifest)
    requester = deprecated["definitions"]["requester"]
    requester["url_base"] = requester.pop("url").replace("{{ parameters.endpoint }}", "")
    requester["path"] = "{{ parameters.endpoint }}"

    warned = deprecations(lambda: ConcurrentDeclarativeSource(source_config=deprecated, config=normalize_config(CONFIG)))

    assert any("url_base" in message for message in warned)


def test_every_stream_has_its_schema_file_and_every_schema_file_a_stream(manifest, streams):
    templates = [entry["stream_template"] for entry in resolved(manifest)["dynamic_streams"]]
    wanted = {stream["$parameters"].get("schema_name") or stream["$parameters"]["name"] for stream in [*streams.values(), *templates]}
    files = {path.stem for path in (REPO / "schemas").glob("*.json")}

    assert wanted == files
    assert all(stream["schema_loader"]["class_name"] == "source_kustomer.schemas.KustomerSchemaLoader" for stream in [*streams.values(), *templates])


def test_a_stream_without_its_schema_file_fails_naming_the_file():
    with pytest.raises(ValueError, match=r"schemas/no_such_stream\.json for stream 'no_such_stream'"):
        stream_schema("no_such_stream")


# --- the packaging files agree with the manifest and with each other ------------------------------------------------


def docs_stream_table(docs: str) -> List[List[str]]:
    """The rows of the table under `## Supported Streams`, as cells without backticks."""
    section = docs.split("## Supported Streams", 1)[1]
    rows = []
    for line in section.strip().splitlines():
        if not line.startswith("|"):
            break
        cells = [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
        if cells[0] != "Stream" and not set(cells[0]) <= set(":- "):
            rows.append(cells)
    return rows


def test_docs_table_lists_exactly_the_manifests_streams(streams, docs):
    documented = [row[0] for row in docs_stream_table(docs)]

    assert sorted(documented) == sorted(streams)
    assert len(documented) == len(set(documented))


def test_docs_table_gives_each_streams_sync_modes_primary_key_and_cursor(streams, docs):
    for name, endpoint, modes, primary_key, cursor in docs_stream_table(docs):
        stream = streams[name]
        assert primary_key == stream["primary_key"], name
        assert ("incremental" in modes) == incremental(stream), name
        assert cursor == (stream["incremental_sync"]["cursor_field"] if incremental(stream) else ""), name
        assert ("client side" in modes) == bool(incremental(stream) and stream["incremental_sync"].get("is_client_side_incremental")), name
        if incremental(stream) and not stream["incremental_sync"].get("is_client_side_incremental"):
            assert "/v1/customers/search" in endpoint and stream["retriever"]["requester"]["http_method"] == "POST", name
            assert f"queryContext: {stream['$parameters']['query_context']}" in endpoint, name


def test_docs_describe_every_spec_field(manifest, docs):
    properties = manifest["spec"]["connection_specification"]["properties"]
    configuration = docs.split("## Configuration", 1)[1].split("\n## ", 1)[0]

    for name in properties:
        assert f"`{name}`" in configuration, name


@pytest.mark.parametrize("catalog_path", ["integration_tests/configured_catalog.json", "integration_tests/configured_catalog_incremental.json"])
def test_configured_catalogs_list_every_stream_with_its_primary_key_and_cursor(streams, catalog_path):
    configured = {entry["stream"]["name"]: entry for entry in read_json(catalog_path)["streams"]}

    assert sorted(configured) == sorted(streams)
    for name, entry in configured.items():
        stream = streams[name]
        assert entry["primary_key"] == [[stream["primary_key"]]], name
        assert ("incremental" in entry["stream"]["supported_sync_modes"]) == incremental(stream), name
        if incremental(stream):
            assert entry["cursor_field"] == [stream["incremental_sync"]["cursor_field"]], name
        expected_mode = "incremental" if incremental(stream) and catalog_path.endswith("_incremental.json") else "full_refresh"
        assert entry["sync_mode"] == expected_mode, name


def test_abnormal_state_puts_every_incremental_stream_in_the_future(streams):
    states = {message["stream"]["stream_descriptor"]["name"]: message["stream"]["stream_state"] for message in read_json("integration_tests/abnormal_state.json")}

    assert set(states) == {name for name, stream in streams.items() if incremental(stream)}
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    for name, state in states.items():
        assert state[streams[name]["incremental_sync"]["cursor_field"]] > now, name


def pyproject() -> Dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_metadata_describes_this_connector(manifest, metadata):
    version = pyproject()["tool"]["poetry"]["version"]
    package = pyproject()["project"]["name"]

    assert metadata["dockerImageTag"] == version
    assert metadata["dockerRepository"] == "airbyte/source-kustomer"
    assert metadata["connectorType"] == "source" and metadata["connectorSubtype"] == "api"
    assert metadata["documentationUrl"] == manifest["spec"]["documentation_url"]
    assert metadata["remoteRegistries"]["pypi"] == {"enabled": True, "packageName": package}
    assert uuid.UUID(metadata["definitionId"]).version == 4
    assert {"language:python", "cdk:low-code"} <= set(metadata["tags"])
    assert (REPO / metadata["icon"]).read_text(encoding="utf-8").lstrip().startswith("<svg")


SINGER_DEFINITION_ID = "cd06e646-31bf-4dc8-af48-cbc6530fcad3"  # Airbyte's archived source-kustomer-singer
SINGER_STREAMS = {"conversations", "customers", "kobjects", "messages", "notes", "shortcuts", "tags", "teams", "users"}
BREAKING_CHANGE_KEYS = {"upgradeDeadline", "message", "migrationDocumentationUrl", "scopedImpact"}  # Airbyte's schema


def test_metadata_takes_over_the_singer_connectors_definition_with_a_major_version(metadata):
    major = int(metadata["dockerImageTag"].split(".")[0])

    assert metadata["definitionId"] == SINGER_DEFINITION_ID
    assert major >= 1
    assert f"{major}.0.0" in metadata["releases"]["breakingChanges"]


def test_metadata_breaking_changes_follow_airbytes_format_and_each_has_a_migration_guide(streams, metadata):
    current = tuple(int(part) for part in metadata["dockerImageTag"].split("."))
    guide = (REPO / "docs" / "kustomer-migrations.md").read_text(encoding="utf-8")
    breaking = metadata["releases"]["breakingChanges"]

    assert breaking
    for version, change in breaking.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version) and tuple(map(int, version.split("."))) <= current, version
        assert set(change) <= BREAKING_CHANGE_KEYS and {"upgradeDeadline", "message"} <= set(change), version
        assert datetime.strptime(change["upgradeDeadline"], "%Y-%m-%d"), version
        assert len(change["message"]) > 80, version
        for scope in change.get("scopedImpact", []):
            assert scope["scopeType"] == "stream" and scope["impactedScopes"], version
            assert set(scope["impactedScopes"]) <= set(streams), version
        assert re.search(rf"^## Upgrading to {re.escape(version)}$", guide, re.MULTILINE), version
    assert set(breaking["1.0.0"]["scopedImpact"][0]["impactedScopes"]) == SINGER_STREAMS


def test_metadata_allowed_hosts_cover_every_region_in_the_spec(manifest, metadata):
    hosts = metadata["allowedHosts"]["hosts"]
    examples = manifest["spec"]["connection_specification"]["properties"]["api_url"]["examples"]

    for url in examples:
        host = url.split("://", 1)[1]
        assert any(re.fullmatch(re.escape(pattern).replace(r"\*", "[^.]+(\\.[^.]+)*"), host) for pattern in hosts), host


def test_dockerfile_default_base_image_is_the_metadatas(metadata):
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    default = re.search(r"^ARG BASE_IMAGE=(\S+)$", dockerfile, re.MULTILINE)

    assert default, "the Dockerfile has no `ARG BASE_IMAGE=<default>`"
    assert default.group(1) == metadata["connectorBuildOptions"]["baseImage"]
    assert re.fullmatch(r"docker\.io/airbyte/python-connector-base:\d+\.\d+\.\d+@sha256:[0-9a-f]{64}", default.group(1))
    assert re.search(r'^ENTRYPOINT \["source-kustomer"\]$', dockerfile, re.MULTILINE)


def test_the_version_and_license_are_written_where_poetry_and_airbytes_checks_read_them(metadata):
    project, poetry = pyproject()["project"], pyproject()["tool"]["poetry"]

    # The version once, in [tool.poetry]; hatchling reads it from there to build the wheel.
    assert "version" not in project and "version" in project["dynamic"]
    assert poetry["version"] == metadata["dockerImageTag"]
    assert poetry["license"] == project["license"]["text"] == metadata["license"]


def locked_versions() -> Dict[str, Dict[str, Any]]:
    lock = tomllib.loads((REPO / "poetry.lock").read_text(encoding="utf-8"))
    return {canonicalize_name(package["name"]): package for package in lock["package"]}


def test_poetry_lock_pins_every_declared_dependency_within_its_declared_range():
    """A dependency added to pyproject.toml without `poetry lock` would be installed by nobody."""
    locked = locked_versions()
    declared = [Requirement(text) for text in pyproject()["project"]["dependencies"]]
    declared += [Requirement(f"{name}{spec}") for name, spec in pyproject()["tool"]["poetry"]["group"]["dev"]["dependencies"].items()]

    for requirement in declared:
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement} is not in poetry.lock: run poetry lock"
        assert requirement.specifier.contains(locked[name]["version"]), f"{requirement}: poetry.lock has {locked[name]['version']}"
    runtime = {canonicalize_name(r.name) for r in declared[: len(pyproject()["project"]["dependencies"])]}
    assert all("main" in locked[name]["groups"] for name in runtime)


def test_the_installed_dependencies_are_the_locked_versions():
    locked = locked_versions()
    installed = {canonicalize_name(dist.metadata["Name"]): dist.version for dist in importlib.metadata.distributions()}

    for name in ("airbyte-cdk", "pydantic", "requests", "pytest", "jsonschema", "markdown-it-py"):
        assert installed[name] == locked[name]["version"], name


def dockerfile_labels() -> Dict[str, str]:
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    return dict(re.findall(r'^LABEL ([\w.]+)="([^"]*)"$', dockerfile, re.MULTILINE))


def test_dockerfile_labels_the_image_with_the_metadatas_name_and_version(metadata):
    labels = dockerfile_labels()

    assert labels.get("io.airbyte.name") == metadata["dockerRepository"]
    assert labels.get("io.airbyte.version") == metadata["dockerImageTag"]


def test_dockerfile_installs_poetry_locks_runtime_dependencies_with_the_makefiles_poetry():
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")

    assert re.search(r"^ARG POETRY_VERSION=\d+\.\d+\.\d+$", dockerfile, re.MULTILINE)
    assert "ARG POETRY_VERSION=" in makefile and "poetry==$(POETRY_VERSION)" in makefile
    assert re.search(r"^RUN poetry export --only main .*--output requirements\.txt$", dockerfile, re.MULTILINE)
    assert re.search(r"^RUN pip install --no-cache-dir --no-deps -r requirements\.txt", dockerfile, re.MULTILINE)
    assert not (REPO / "requirements.lock").exists(), "the pins are poetry.lock's alone"


def test_docs_changelog_has_the_current_version(docs, metadata):
    changelog = docs.split("## Changelog", 1)[1]

    assert re.search(rf"^\| {re.escape(metadata['dockerImageTag'])} \| \d{{4}}-\d{{2}}-\d{{2}} \|", changelog, re.MULTILINE)


def acceptance_entries() -> List[tuple]:
    config = read_yaml("acceptance-test-config.yml")
    return [(section, entry) for section, block in config["acceptance_tests"].items() for entry in block.get("tests") or []]


def test_acceptance_test_config_is_one_the_cdks_standard_tests_accept(metadata):
    config = read_yaml("acceptance-test-config.yml")
    collected = {"spec", "connection", "discovery", "basic_read", "full_refresh"}

    assert config["connector_image"] == f"{metadata['dockerRepository']}:dev"
    for section, entry in acceptance_entries():
        if section in collected:
            assert entry_key_problems(entry, (section,)) == [], section
            if "config_path" in entry:
                ConnectorTestScenario.model_validate({**entry, "sections": (section,), "test_strictness_level": config.get("test_strictness_level")})


def test_acceptance_test_config_points_at_files_that_exist():
    paths: Set[str] = set()
    for _section, entry in acceptance_entries():
        paths |= {entry[key] for key in ("spec_path", "config_path", "configured_catalog_path") if key in entry}
        paths |= {entry["future_state"]["future_state_path"]} if "future_state" in entry else set()
    expected_statuses = {entry["config_path"]: entry.get("status") for section, entry in acceptance_entries() if section == "connection"}

    assert {p for p in paths if not (REPO / p).is_file()} == set()
    assert expected_statuses == {"integration_tests/sample_config.json": "succeed", "integration_tests/invalid_config.json": "failed"}


@pytest.mark.parametrize("config_path", ["integration_tests/sample_config.json", "integration_tests/invalid_config.json"])
def test_sample_configs_are_valid_configs_for_the_spec(config_path):
    assert normalize_config(read_json(config_path))


def test_the_spec_and_the_config_validation_both_take_rate_limit_share_from_10_to_100_as_the_guide_says(manifest):
    from source_kustomer.config import DEFAULT_RATE_LIMIT_SHARE, ConfigError, normalize_config

    # The user's guide (docs/kustomer.md): "in percent, 10 to 100", default 80. Written here, not read from the spec.
    documented = {"minimum": 10, "maximum": 100, "default": 80}
    field = manifest["spec"]["connection_specification"]["properties"]["rate_limit_share"]
    base = {"api_token": "t", "start_date": "2025-01-01"}

    assert "10 to 100" in (REPO / "docs" / "kustomer.md").read_text()
    assert field["type"] == "integer"
    assert {key: field[key] for key in documented} == documented
    assert DEFAULT_RATE_LIMIT_SHARE == documented["default"] == normalize_config(base)["rate_limit_share"]
    for accepted in (10, 11, 99, 100):
        assert normalize_config({**base, "rate_limit_share": accepted})["rate_limit_share"] == accepted
    for refused in (9, 101, 0):
        with pytest.raises(ConfigError, match="rate_limit_share"):
            normalize_config({**base, "rate_limit_share": refused})
