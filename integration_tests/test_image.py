"""The Docker image, built from the repository's Dockerfile, run as Airbyte runs it against the Kustomer emulator.

The image is built once for the module. Every command runs in a named container (this machine's engine reports exit
status 0 for `docker run --rm` whatever happened): the tests read the real exit status with `wait()`, then the logs,
and remove the container. Configs and catalogs reach the container as files in a bind-mounted /secrets, and the
container reaches the emulator on the host network.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Set

import pytest
import yaml

from integration_tests.cli import Run
from integration_tests.emulator import DEFAULT_TOKEN, KustomerEmulator
from integration_tests.expected import custom_attribute_ids, ids_since, klasses_by_stream
from integration_tests.spec_compatibility import MIGRATED_FINDINGS, breaking_changes
from integration_tests.streams import STATIC_STREAMS

pytestmark = pytest.mark.image

REPO = Path(__file__).resolve().parents[1]
IMAGE = "airbyte/source-kustomer:dev"
RUN_TIMEOUT_SECONDS = 600

# Small, but every stream has records in the read window below.
COUNTS = {
    "customers": 300,
    "conversations": 200,
    "messages": 300,
    "notes": 80,
    "kobjects": 60,
    "companies": 40,
    "users": 20,
    "teams": 6,
    "tags": 25,
    "shortcuts": 15,
    "slas": 6,
    "klasses": 3,
    # a small org list: enough that some are updated since START_DATE
    "role_groups": 40,
}
# A year back: four 90-day search windows per search stream, so the read stays inside one minute's search
# budget (100 requests) and the test measures the image, not the rate limiter.
START_DATE = (datetime.now(timezone.utc) - timedelta(days=330)).strftime("%Y-%m-%dT00:00:00Z")


def _engine_unavailable(reason: str) -> None:
    """Skips the image tests, or fails them where they must run (`IMAGE_TESTS_REQUIRED=1`, set by .ci/run wherever
    CI has the container setup)."""
    if os.environ.get("IMAGE_TESTS_REQUIRED") == "1":
        pytest.fail(f"IMAGE_TESTS_REQUIRED=1 but the image tests cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


def connect_to_engine() -> Any:
    """A client of the container engine DOCKER_HOST (or the default socket) names; skips or fails without one."""
    try:
        import docker
    except ImportError:
        _engine_unavailable("the docker SDK is not installed (make install)")
    try:
        client = docker.from_env(timeout=RUN_TIMEOUT_SECONDS)
        client.ping()
    except Exception as error:  # any failure to reach an engine: no socket, refused, not running
        _engine_unavailable(f"no container engine reachable: {type(error).__name__}: {error}")
    return client


@pytest.fixture(scope="module")
def engine():
    client = connect_to_engine()
    yield client
    client.close()


@pytest.fixture(scope="module")
def image(engine) -> str:
    import docker

    build_args = {"BASE_IMAGE": os.environ["BASE_IMAGE"]} if os.environ.get("BASE_IMAGE") else {}
    try:
        engine.images.build(path=str(REPO), tag=IMAGE, buildargs=build_args, rm=True, forcerm=True)
    except docker.errors.BuildError as error:
        log = "".join(str(chunk.get("stream") or chunk.get("error") or "") for chunk in error.build_log)
        pytest.fail(f"docker build of {IMAGE} failed: {error.msg}\n{log[-4000:]}")
    return IMAGE


@pytest.fixture(scope="module")
def emulator():
    # Kustomer's documented budgets, so responses carry x-ratelimit-* headers as Kustomer's do.
    with KustomerEmulator(seed=7, counts=COUNTS, rate_limit=1000, search_rate_limit=100) as running:
        yield running


@pytest.fixture
def secrets(tmp_path) -> Path:
    """A directory for /secrets that the image's `airbyte` user can read."""
    directory = tmp_path / "secrets"
    directory.mkdir()
    directory.chmod(0o755)
    return directory


def put(directory: Path, name: str, content: Any) -> str:
    """Writes a file into the mounted directory, readable by the container; returns its path in the container."""
    path = directory / name
    path.write_text(json.dumps(content), encoding="utf-8")
    path.chmod(0o644)
    return f"/secrets/{name}"


def put_file(directory: Path, source: Path) -> str:
    shutil.copyfile(source, directory / source.name)
    (directory / source.name).chmod(0o644)
    return f"/secrets/{source.name}"


def run_connector(engine, image: str, args: List[str], secrets: Optional[Path] = None) -> Run:
    name = f"source-kustomer-test-{args[0]}-{uuid.uuid4().hex[:10]}"
    volumes = {str(secrets): {"bind": "/secrets", "mode": "ro"}} if secrets else None
    container = engine.containers.create(image, command=args, name=name, network_mode="host", volumes=volumes)
    try:
        container.start()
        status = container.wait(timeout=RUN_TIMEOUT_SECONDS)["StatusCode"]
        stdout = container.logs(stdout=True, stderr=False).decode("utf-8", "replace")
        stderr = container.logs(stdout=False, stderr=True).decode("utf-8", "replace")
    finally:
        container.remove(force=True)
    return Run.of(status, stdout, stderr)


def good_config(emulator: KustomerEmulator) -> Dict[str, Any]:
    return {"api_token": DEFAULT_TOKEN, "start_date": START_DATE, "api_url": emulator.url}


def expected_ids(emulator: KustomerEmulator, stream: str) -> Set[str]:
    """The emulator's own data: every object updated at or after start_date, or every declared custom attribute."""
    return custom_attribute_ids(emulator) if stream == "custom_attributes" else ids_since(emulator, stream, START_DATE)


def test_image_carries_airbytes_labels_with_the_metadatas_name_and_version(engine, image):
    """What Airbyte's acceptance tests read (test_image_labels), and the entrypoint they compare AIRBYTE_ENTRYPOINT to."""
    metadata = yaml.safe_load((REPO / "metadata.yaml").read_text(encoding="utf-8"))["data"]
    built = engine.images.get(image)
    env = dict(entry.split("=", 1) for entry in built.attrs["Config"]["Env"] or [])

    assert built.labels.get("io.airbyte.name") == metadata["dockerRepository"]
    assert built.labels.get("io.airbyte.version") == metadata["dockerImageTag"]
    assert env.get("AIRBYTE_ENTRYPOINT") == " ".join(built.attrs["Config"]["Entrypoint"])


def test_spec_declares_the_connection_fields(engine, image):
    manifest_spec = yaml.safe_load((REPO / "manifest.yaml").read_text(encoding="utf-8"))["spec"]["connection_specification"]

    run = run_connector(engine, image, ["spec"])

    assert run.exit_code == 0, run.tail()
    spec = run.of_type("SPEC")[0]["spec"]["connectionSpecification"]
    assert set(spec["properties"]) == {"api_token", "start_date", "api_url", "page_size", "num_workers", "rate_limit_share"}
    assert spec["properties"] == manifest_spec["properties"]
    assert spec["required"] == ["api_token", "start_date"]
    assert spec["properties"]["api_token"]["airbyte_secret"] is True


def test_the_images_spec_accepts_every_config_the_published_spec_accepted_once_migrated(engine, image):
    run = run_connector(engine, image, ["spec"])

    assert run.exit_code == 0, run.tail()
    assert breaking_changes(run.of_type("SPEC")[0]["spec"]) == MIGRATED_FINDINGS


def test_check_succeeds_against_the_emulator(engine, image, emulator, secrets):
    config = put(secrets, "config.json", good_config(emulator))

    run = run_connector(engine, image, ["check", "--config", config], secrets)

    assert run.exit_code == 0, run.tail()
    status = run.of_type("CONNECTION_STATUS")[0]["connectionStatus"]
    assert status["status"] == "SUCCEEDED", status


def test_check_with_a_wrong_token_fails_with_kustomers_reason_and_never_prints_the_token(engine, image, emulator, secrets):
    wrong_token = f"wrong-token-{uuid.uuid4().hex}"
    config = put(secrets, "config.json", {**good_config(emulator), "api_token": wrong_token})

    run = run_connector(engine, image, ["check", "--config", config], secrets)

    status = run.of_type("CONNECTION_STATUS")[0]["connectionStatus"]
    assert status["status"] == "FAILED", status
    assert "HTTP 401" in status["message"] and "Invalid or missing API token" in status["message"], status["message"]
    assert wrong_token not in run.stdout and wrong_token not in run.stderr


def test_discover_lists_the_manifests_streams_and_one_per_klass(engine, image, emulator, secrets):
    config = put(secrets, "config.json", good_config(emulator))

    run = run_connector(engine, image, ["discover", "--config", config], secrets)

    assert run.exit_code == 0, run.tail()
    streams = run.of_type("CATALOG")[0]["catalog"]["streams"]
    names = [stream["name"] for stream in streams]
    assert sorted(names) == sorted(STATIC_STREAMS + list(klasses_by_stream(emulator)))
    assert all(stream["source_defined_primary_key"] == [["id"]] for stream in streams)


def test_read_delivers_every_record_of_every_stream(engine, image, emulator, secrets):
    config = put(secrets, "config.json", good_config(emulator))
    catalog = put_file(secrets, REPO / "integration_tests" / "configured_catalog.json")

    run = run_connector(engine, image, ["read", "--config", config, "--catalog", catalog], secrets)

    assert run.exit_code == 0, run.tail()
    assert not run.errors(), run.errors()
    delivered = run.ids_by_stream()
    assert set(delivered) == set(STATIC_STREAMS)
    for stream in STATIC_STREAMS:
        expected = expected_ids(emulator, stream)
        assert expected, f"the emulator has no {stream} updated since {START_DATE}: the test would prove nothing"
        assert set(delivered[stream]) == expected, (
            f"{stream}: {len(expected - set(delivered[stream]))} missing, {len(set(delivered[stream]) - expected)} unexpected"
        )


def test_incremental_read_from_a_future_state_delivers_nothing_already_synced(engine, image, emulator, secrets):
    config = put(secrets, "config.json", good_config(emulator))
    catalog_path = REPO / "integration_tests" / "configured_catalog_incremental.json"
    catalog = put_file(secrets, catalog_path)
    state = put_file(secrets, REPO / "integration_tests" / "abnormal_state.json")
    incremental = {s["stream"]["name"] for s in json.loads(catalog_path.read_text())["streams"] if s["sync_mode"] == "incremental"}

    run = run_connector(engine, image, ["read", "--config", config, "--catalog", catalog, "--state", state], secrets)

    assert run.exit_code == 0, run.tail()
    assert not run.errors(), run.errors()
    delivered = run.ids_by_stream()
    assert incremental and not incremental & set(delivered), {s: len(delivered[s]) for s in incremental & set(delivered)}
