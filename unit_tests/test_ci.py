"""CI cannot skip the image tests silently: where it has the container setup, they run or CI fails."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from integration_tests.test_image import connect_to_engine

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def no_engine(monkeypatch, tmp_path):
    pytest.importorskip("docker")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-engine.sock'}")


def test_an_unreachable_engine_fails_the_image_tests_when_they_are_required(no_engine, monkeypatch):
    monkeypatch.setenv("IMAGE_TESTS_REQUIRED", "1")

    with pytest.raises((pytest.fail.Exception, pytest.skip.Exception)) as outcome:  # a skip here must fail this test
        connect_to_engine()

    assert outcome.type is pytest.fail.Exception
    assert "IMAGE_TESTS_REQUIRED=1 but the image tests cannot run: no container engine reachable" in str(outcome.value)


def test_an_unreachable_engine_skips_the_image_tests_otherwise(no_engine, monkeypatch):
    monkeypatch.delenv("IMAGE_TESTS_REQUIRED", raising=False)

    with pytest.raises((pytest.fail.Exception, pytest.skip.Exception)) as outcome:
        connect_to_engine()

    assert outcome.type is pytest.skip.Exception
    assert "no container engine reachable" in str(outcome.value)


def _ci_tree(tmp_path: Path, setup: str) -> Path:
    """.ci/run beside a stand-in ../shared/container/setup.sh, and a `make` that writes down what it was run with."""
    repo = tmp_path / "repo"
    (repo / ".ci").mkdir(parents=True)
    for name in ("run", "container_setup.py"):
        shutil.copy(REPO / ".ci" / name, repo / ".ci" / name)
    (tmp_path / "shared" / "container").mkdir(parents=True)
    (tmp_path / "shared" / "container" / "setup.sh").write_text(setup)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "make").write_text(f'#!/bin/sh\necho "make $* DOCKER_HOST=$DOCKER_HOST IMAGE_TESTS_REQUIRED=$IMAGE_TESTS_REQUIRED" > {tmp_path}/made\n')
    (bin_dir / "make").chmod(0o755)
    return repo


def _run_ci(repo: Path, tmp_path: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env.pop("IMAGE_TESTS_REQUIRED", None)
    return subprocess.run(["bash", str(repo / ".ci" / "run")], capture_output=True, text=True, env=env, timeout=timeout)


def test_ci_fails_before_the_tests_when_the_container_setup_fails(tmp_path):
    repo = _ci_tree(tmp_path, "echo 'podman: cannot start' >&2\nexit 3\n")

    ci = _run_ci(repo, tmp_path)

    assert ci.returncode != 0
    assert "container engine setup failed" in ci.stderr and "podman: cannot start" in ci.stderr
    assert not (tmp_path / "made").exists()


def test_ci_requires_the_image_tests_when_the_container_setup_works(tmp_path):
    repo = _ci_tree(tmp_path, "echo 'export DOCKER_HOST=unix:///tmp/engine.sock'\n")

    ci = _run_ci(repo, tmp_path)

    assert ci.returncode == 0, ci.stderr
    assert (tmp_path / "made").read_text().split() == ["make", "test", "DOCKER_HOST=unix:///tmp/engine.sock", "IMAGE_TESTS_REQUIRED=1"]


# What the real setup.sh does on its first call: a background service started inside an `&&` list, whose shell stays
# alive beside it holding the stdout and stderr setup.sh was given.
LINGERING_SETUP = """echo '[setup] starting the engine' >&2
(cd / && setsid nohup sleep {seconds} >/dev/null 2>&1 < /dev/null &)
echo 'export DOCKER_HOST=unix:///tmp/engine.sock'
"""


def test_ci_goes_on_while_the_engine_the_setup_started_keeps_running(tmp_path):
    repo = _ci_tree(tmp_path, LINGERING_SETUP.format(seconds=91))
    try:
        ci = _run_ci(repo, tmp_path, timeout=30)  # CI hung here for its whole time limit when setup.sh ran in `$(...)`
    finally:
        subprocess.run(["pkill", "-f", "sleep 91"], check=False)

    assert ci.returncode == 0, ci.stderr
    assert "[setup] starting the engine" in ci.stderr
    assert (tmp_path / "made").read_text().split()[2] == "DOCKER_HOST=unix:///tmp/engine.sock"
