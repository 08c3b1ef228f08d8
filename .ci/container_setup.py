"""Run ../shared/container/setup.sh for CI so that the engine it leaves running cannot hold CI open.

setup.sh starts podman's API in the background on its first call, and a shell of its own stays alive beside that
service for as long as it runs, holding the stdout and stderr setup.sh was given. Given pipes (`$(setup.sh)`, or CI's
own output), that shell keeps them open forever and whoever reads them never sees their end: CI hung there, after
"starting podman's Docker-compatible API", until its time limit. So setup.sh gets files for stdout and stderr and none
of CI's other descriptors (close_fds); its progress is copied to stderr afterwards and its export lines to stdout.

Usage: python3 .ci/container_setup.py SETUP_SH   (prints setup.sh's export lines; exits with its status)
"""

import subprocess
import sys
import tempfile

TIMEOUT_SECONDS = 1800  # a first call installs podman and builds the base image: about a minute on this machine


def main(setup_sh: str) -> int:
    with tempfile.TemporaryFile("w+") as exports, tempfile.TemporaryFile("w+") as progress:
        try:
            status = subprocess.call(
                ["bash", setup_sh], stdin=subprocess.DEVNULL, stdout=exports, stderr=progress,
                close_fds=True, timeout=TIMEOUT_SECONDS,
            )
        except subprocess.TimeoutExpired:
            status = None
        progress.seek(0)
        sys.stderr.write(progress.read())
        if status is None:
            sys.stderr.write(f"{setup_sh} did not finish within {TIMEOUT_SECONDS} s\n")
            return 1
        exports.seek(0)
        sys.stdout.write(exports.read())
        return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
