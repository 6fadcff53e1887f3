"""A container engine for the container tests (and so for `make image`): Docker when its daemon
answers, otherwise podman (`make image` and `make test` install Debian's podman when neither is
there).

Podman runs with a private ``containers.conf`` (``CONTAINERS_CONF``): the runc runtime when runc
is installed, and container ulimits equal to this process's own (an unprivileged or nested
host may forbid raising them, which podman's defaults try).

Base images the Dockerfile and docker-compose.yml name are used when the engine has them, pulled
when a registry serves them, and otherwise made here as stand-ins from Debian bookworm (whose
Python is 3.11): ``python:3.11-slim`` by debootstrap (Python in a virtualenv on PATH, as in the
official image), ``redis:7-alpine`` from it with Debian's redis-server. The stand-ins stay in the
engine's storage, so they are made once per machine; image layers are reused between runs.

When pip on this machine is told where wheels and certificates lie (``pip config list``:
find-links, cert), a podman build mounts them with a matching pip.conf -- for its RUN steps
only: nothing of it is in the image (tests/containers/test_image.py checks).
"""

import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGE = "funnelscope:latest"  # docker-compose.yml's web and worker image
BASE = "python:3.11-slim"  # the Dockerfile's FROM
REDIS = "redis:7-alpine"  # docker-compose.yml's redis image
BUILD_HOME = "/root"  # where the build-time pip settings are mounted (the build user's home)
DEFAULT_MIRROR = "http://deb.debian.org/debian"
NPROC = 32768


class EngineMissing(RuntimeError):
    pass


@dataclass
class Engine:
    name: str  # "docker" or "podman"
    env: dict[str, str] = field(default_factory=dict)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="funnelscope-engine-")))

    def run(self, *args: str, timeout: float = 600, check: bool = True,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run([self.name, *args], capture_output=True, text=True, timeout=timeout,
                                env={**os.environ, **self.env, **(env or {})})
        if check and result.returncode != 0:
            raise AssertionError(f"{self.name} {' '.join(args)} exited {result.returncode}:\n"
                                 f"{result.stdout[-3000:]}{result.stderr[-3000:]}")
        return result

    def has_image(self, ref: str) -> bool:
        return self.run("image", "inspect", ref, check=False, timeout=60).returncode == 0

    def compose(self) -> list[str]:
        """The Compose command of this engine: ``docker compose`` or podman-compose."""
        if self.name == "docker":
            return ["docker", "compose"]
        exe = shutil.which("podman-compose")
        if exe is None:
            raise EngineMissing("podman-compose is missing: `make test` installs Debian's "
                                "podman-compose")
        return [exe]


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def find_engine() -> Engine:
    """Docker when its daemon answers, otherwise podman with a private containers.conf."""
    if _docker_answers():
        return Engine("docker")
    if shutil.which("podman") is None:
        raise EngineMissing("no container engine: no answering Docker daemon and no podman "
                            "(`make image` installs Debian's podman)")
    engine = Engine("podman")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # processes: at most 32768 (a nested host refused its own 96367 and 65536 for the
    # container's root, and allowed 32768); ample for gunicorn, Celery and redis
    nproc = min(NPROC, *(n for n in resource.getrlimit(resource.RLIMIT_NPROC)
                          if n != resource.RLIM_INFINITY))
    limits = [f"nofile={soft}:{hard}", f"nproc={nproc}:{nproc}"]
    conf = "[containers]\ndefault_ulimits = [" + ", ".join(f'"{x}"' for x in limits) + "]\n"
    if shutil.which("runc"):
        conf += '[engine]\nruntime = "runc"\n'
    path = engine.workdir / "containers.conf"
    path.write_text(conf)
    engine.env["CONTAINERS_CONF"] = str(path)
    return engine


# --- base images ---------------------------------------------------------------------------------

def _qualified(ref: str) -> str:
    return ref if "/" in ref else f"docker.io/library/{ref}"


def _try_pull(engine: Engine, ref: str) -> bool:
    try:
        return engine.run("pull", _qualified(ref), check=False, timeout=90).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def debian_mirror() -> str:
    """The first Debian mirror this machine's apt uses (deb822 or one-line sources)."""
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in sources:
        if not path.is_file():
            continue
        text = path.read_text(errors="ignore")
        for match in re.finditer(r"^(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(\S+)", text, re.MULTILINE):
            url = match.group(1)
            if "security" not in url and url.startswith(("http://", "https://")):
                return url
    return DEFAULT_MIRROR


def make_python_standin(engine: Engine) -> None:
    """``python:3.11-slim`` from Debian bookworm's python3 (3.11): debootstrap, then a
    virtualenv on PATH so that ``python`` and ``pip`` work as in the official image."""
    if shutil.which("debootstrap") is None:
        raise EngineMissing(f"{BASE} cannot be pulled and debootstrap is missing to make a "
                            "stand-in (`make image` installs it)")
    if os.geteuid() != 0:
        raise EngineMissing(f"{BASE} cannot be pulled, and making a stand-in with debootstrap "
                            "needs root: run as root, or pull the image once where a registry answers")
    rootfs = Path(tempfile.mkdtemp(prefix="rootfs-", dir=engine.workdir))
    try:
        subprocess.run(["debootstrap", "--variant=minbase",
                        "--include=python3,python3-venv,ca-certificates", "bookworm", str(rootfs),
                        debian_mirror()], check=True, capture_output=True, timeout=900)
        subprocess.run(["chroot", str(rootfs), "python3", "-m", "venv", "/usr/local/python"],
                       check=True, capture_output=True, timeout=120)
        shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
        path = "/usr/local/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run([engine.name, "import", "--change", f"ENV PATH={path}",
                                   "--change", "ENV LANG=C.UTF-8", "--change", 'CMD ["python3"]',
                                   "-", _qualified(BASE)], stdin=tar.stdout, capture_output=True,
                                  text=True, timeout=600, env={**os.environ, **engine.env})
        tar.stdout.close()  # type: ignore[union-attr]
        tar.wait(timeout=60)
        assert imported.returncode == 0, imported.stderr
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)


def make_redis_standin(engine: Engine) -> None:
    """``redis:7-alpine`` as Debian's redis-server on the Python base (redis-cli for the
    health check)."""
    context = Path(tempfile.mkdtemp(prefix="redis-", dir=engine.workdir))
    (context / "Dockerfile").write_text(
        f"FROM {_qualified(BASE)}\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends redis-server "
        "&& rm -rf /var/lib/apt/lists/*\n"
        "WORKDIR /data\n"
        'CMD ["redis-server", "--protected-mode", "no", "--dir", "/data"]\n')
    engine.run("build", *_build_flags(engine), "-t", _qualified(REDIS), str(context), timeout=600)


def ensure_base_images(engine: Engine, redis: bool = False) -> dict[str, str]:
    """Each base image: "present", "pulled" or "stand-in"."""
    how = {}
    for ref, make in [(BASE, make_python_standin)] + ([(REDIS, make_redis_standin)] if redis else []):
        if engine.has_image(_qualified(ref)) or engine.has_image(ref):
            how[ref] = "present"
        elif _try_pull(engine, ref):
            how[ref] = "pulled"
        else:
            make(engine)
            how[ref] = "stand-in"
    return how


# --- the image -----------------------------------------------------------------------------------

def host_pip_settings() -> dict[str, list[str]]:
    """find-links folders and the cert file of this machine's pip (``pip config list``)."""
    out = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True,
                         text=True, timeout=60).stdout
    found: dict[str, list[str]] = {"find-links": [], "cert": []}
    for line in out.splitlines():
        key, _, value = line.partition("=")
        name = key.rsplit(".", 1)[-1]
        if name in found:
            for item in value.strip().strip("'\"").split():
                if Path(item).exists() and item not in found[name]:
                    found[name].append(item)
    return found


def _build_flags(engine: Engine) -> list[str]:
    """Engine flags for a build: podman mounts the host's pip settings for RUN steps only.

    They are mounted over ``/root``, the build user's home, which every base image has: pip
    reads ``~/.config/pip/pip.conf``. A mount on a path the image lacks would leave an empty
    file or folder behind in the layer (podman creates mount points); over an existing folder
    it leaves nothing, and the folders mounted inside it get their mount points on the host.
    """
    if engine.name != "podman":
        return []
    flags = ["--pull=never", "--format", "docker"]
    settings = host_pip_settings()
    if not settings["find-links"] and not settings["cert"]:
        return flags
    home = engine.workdir / "build-home"
    (home / ".config" / "pip").mkdir(parents=True, exist_ok=True)
    lines = ["[global]", "retries = 1", "timeout = 60"]
    links = []
    for i in range(len(settings["find-links"])):
        (home / f"links{i}").mkdir(exist_ok=True)
        links.append(f"{BUILD_HOME}/links{i}")
    if links:
        lines.append("find-links = " + " ".join(links))
    if settings["cert"]:
        shutil.copyfile(settings["cert"][0], home / "ca.crt")
        lines.append(f"cert = {BUILD_HOME}/ca.crt")
    (home / ".config" / "pip" / "pip.conf").write_text("\n".join(lines) + "\n")
    flags += ["--volume", f"{home}:{BUILD_HOME}"]
    flags += [arg for i, folder in enumerate(settings["find-links"])
              for arg in ("--volume", f"{folder}:{BUILD_HOME}/links{i}:ro")]
    return flags


def build_image(engine: Engine) -> float:
    """Build the repository's Dockerfile as ``funnelscope:latest``; the seconds it took."""
    start = time.monotonic()
    engine.run("build", *_build_flags(engine), "-t", IMAGE, str(REPO_ROOT), timeout=1800)
    return time.monotonic() - start
