"""The container tests: the image the Dockerfile builds, and the Compose set-up running it.

They need a container engine (tests/containers/engine.py: Docker, or podman which `make test`
and `make image` install); without one they fail with a clear message, never skip. The image
is built once per test run (``funnelscope:latest``, the tag docker-compose.yml uses) and the
engine reuses its cached layers between runs: a rebuild after a source change redoes the wheel
and its install, not the dependencies.
"""

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.containers import engine as engines

# A cold run (no base image, no cached layers) spends its first test's set-up building: about
# 2 min for a stand-in base and 3 min for the image on 2 cores, more on a busy machine.
TIMEOUT_S = 1500


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/containers/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.containers)
            item.add_marker(pytest.mark.timeout(TIMEOUT_S))


@pytest.fixture(scope="session")
def engine() -> engines.Engine:
    try:
        return engines.find_engine()
    except engines.EngineMissing as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def image(engine) -> Iterator[dict]:
    """``funnelscope:latest`` built from the repository now: how its base came and the build time."""
    try:
        bases = engines.ensure_base_images(engine)
    except engines.EngineMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    seconds = engines.build_image(engine)
    inspect = json.loads(engine.run("image", "inspect", engines.IMAGE).stdout)[0]
    yield {"ref": engines.IMAGE, "bases": bases, "build_seconds": seconds, "inspect": inspect}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http(url: str, data: bytes | None = None, timeout: float = 30) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def wait_for(url: str, alive, logs, timeout: float = 120) -> None:
    """Until ``url`` answers 200; fails with ``logs()`` when ``alive()`` turns false or on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if http(url, timeout=3)[0] == 200:
                return
        except OSError:
            pass
        if not alive():
            pytest.fail(f"the container stopped before {url} answered:\n{logs()}")
        if time.monotonic() > deadline:
            pytest.fail(f"{url} did not answer in {timeout} s:\n{logs()}")
        time.sleep(0.5)
