"""Dashboard settings, read from the environment (documented in README.md).

FUNNELSCOPE_CACHE_DIR      where cached results live (default: ~/.cache/funnelscope)
FUNNELSCOPE_CACHE_TIMEOUT  seconds a cached result is kept (default: 7 days; 0 = forever)
FUNNELSCOPE_CACHE_ENTRIES  entries kept before the oldest are dropped (default: 2000)
FUNNELSCOPE_MAX_UPLOAD_MB  largest accepted upload in MB (default: 20)
FUNNELSCOPE_MAX_PARAMETERS largest accepted network, in parameters (default: 2,000,000)
FUNNELSCOPE_MAX_SAMPLES    largest accepted data upload, in samples (default: 10,000)
FUNNELSCOPE_TORCH_THREADS  torch threads per worker process (default: 1; scale with workers)
FUNNELSCOPE_VIEW_PROCESSES processes one view's independent blocks may be computed on (default:
                           0, automatic): without Redis, a panel job forks this many
                           (automatic: cores // torch threads); with REDIS_URL, up to this many
                           processes, the computing one and Celery workers that help
                           (automatic: 8; idle ones join, busy ones skip; app/spread.py).
                           1: every view on one process
FUNNELSCOPE_DEVICE         cpu (default), cuda, cuda:K or auto: where network slices are
                           evaluated; a missing GPU falls back to the CPU with a log line
FUNNELSCOPE_COMPUTE_SECONDS compute budget: seconds one view's computation may take before it
                           is stopped (default: 300; the API answers 422, the panel says so)
FUNNELSCOPE_COMPUTE_MEMORY_MB memory budget: MB by which one view's computation may grow the
                           process (resident set, Linux) before it is stopped (default: 2048;
                           0 = no limit; the API answers 422, the panel says so)
FUNNELSCOPE_COMPUTE_NICE   the nice value (0-19) of the threads and processes that compute views
                           (default: 10; 0 = as the request threads): pages, cached views and
                           /healthz get the CPU first (app/fairness.py)
FUNNELSCOPE_API_COMPUTATIONS views the HTTP API computes at once per worker process (default: 2;
                           more concurrent misses answer 503 with Retry-After, so request
                           threads stay free for /healthz and the page)
FUNNELSCOPE_JOBS_PER_CLIENT  running view computations per client (default: 2; 0 = no limit):
                           a browser session (dashboard jobs) or an address (POST /api/view);
                           further panel jobs wait in arrival order, the panel showing
                           "queued: N ahead"; further API requests get 429 (app/fairness.py)
FUNNELSCOPE_LAB_TOKEN      a shared lab token: every request but /healthz and /readyz needs it
                           (a link with ?token=..., then a cookie; app/access.py). Unset,
                           empty or "off" (default): open, for local use
REDIS_URL                  e.g. redis://127.0.0.1:6379/0: cache in Redis (flask-caching
                           RedisCache, bytes only: app/viewcache.py) and background jobs on
                           Celery workers (Dash's CeleryManager). Unset: files under the
                           cache directory and jobs in local processes (DiskcacheManager,
                           forked by a job server: app/jobs.py).

Under the cache directory, ``views/`` holds cached results and ``store/`` the validated
uploads and the trained example networks.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from landscapes.chunks import cores

CELERY_HELPERS = 7  # helpers a view sends by default: with the computing worker, 8 processes


@dataclass(frozen=True)
class Config:
    cache_dir: Path = Path.home() / ".cache" / "funnelscope"
    cache_timeout: int = 7 * 24 * 3600
    cache_entries: int = 2000
    max_upload_mb: float = 20.0
    max_parameters: int = 2_000_000
    max_samples: int = 10_000
    torch_threads: int = 1
    view_processes: int = 0
    device: str = "cpu"
    jobs_per_client: int = 2
    redis_url: str | None = None
    compute_seconds: float = 300.0
    compute_memory_mb: float = 2048.0
    compute_nice: int = 10
    api_computations: int = 2
    lab_token: str | None = field(default=None, repr=False)  # never in logs

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Config":
        env = os.environ if env is None else env
        default = cls()
        return cls(
            cache_dir=Path(env.get("FUNNELSCOPE_CACHE_DIR", default.cache_dir)),
            cache_timeout=int(env.get("FUNNELSCOPE_CACHE_TIMEOUT", default.cache_timeout)),
            cache_entries=int(env.get("FUNNELSCOPE_CACHE_ENTRIES", default.cache_entries)),
            max_upload_mb=float(env.get("FUNNELSCOPE_MAX_UPLOAD_MB", default.max_upload_mb)),
            max_parameters=int(env.get("FUNNELSCOPE_MAX_PARAMETERS", default.max_parameters)),
            max_samples=int(env.get("FUNNELSCOPE_MAX_SAMPLES", default.max_samples)),
            torch_threads=int(env.get("FUNNELSCOPE_TORCH_THREADS", default.torch_threads)),
            view_processes=int(env.get("FUNNELSCOPE_VIEW_PROCESSES", default.view_processes)),
            device=env.get("FUNNELSCOPE_DEVICE", default.device),
            jobs_per_client=int(env.get("FUNNELSCOPE_JOBS_PER_CLIENT", default.jobs_per_client)),
            redis_url=env.get("REDIS_URL") or None,
            compute_seconds=float(env.get("FUNNELSCOPE_COMPUTE_SECONDS", default.compute_seconds)),
            compute_memory_mb=float(env.get("FUNNELSCOPE_COMPUTE_MEMORY_MB",
                                            default.compute_memory_mb)),
            compute_nice=int(env.get("FUNNELSCOPE_COMPUTE_NICE", default.compute_nice)),
            api_computations=int(env.get("FUNNELSCOPE_API_COMPUTATIONS",
                                         default.api_computations)),
            lab_token=_lab_token(env.get("FUNNELSCOPE_LAB_TOKEN")),
        )

    @property
    def compute_memory_bytes(self) -> int | None:
        """The memory budget in bytes (None: no limit)."""
        return int(self.compute_memory_mb * 2**20) if self.compute_memory_mb > 0 else None

    @property
    def processes_per_view(self) -> int:
        """Processes one view's blocks may be computed on (FUNNELSCOPE_VIEW_PROCESSES, with
        its automatic value resolved): Celery workers with Redis, forked processes without."""
        if self.view_processes > 0:
            return self.view_processes
        if self.redis_url:
            return CELERY_HELPERS + 1
        return max(1, cores() // max(1, self.torch_threads))

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 2**20)

    def flask_caching(self) -> dict:
        """The flask-caching configuration for this setting."""
        if self.redis_url:
            return {
                "CACHE_TYPE": "app.viewcache.RedisCache",  # bytes only, no pickle
                "CACHE_REDIS_URL": self.redis_url,
                "CACHE_KEY_PREFIX": "funnelscope:",
                # a Redis that stops answering fails a request in seconds, never hangs it
                "CACHE_OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 5},
                "CACHE_DEFAULT_TIMEOUT": self.cache_timeout,
            }
        return {
            "CACHE_TYPE": "app.viewcache.FileSystemCache",
            "CACHE_DIR": str(Path(self.cache_dir) / "views"),
            "CACHE_DEFAULT_TIMEOUT": self.cache_timeout,
            "CACHE_THRESHOLD": self.cache_entries,
        }


def _lab_token(value: str | None) -> str | None:
    """The lab token, or None for unset, empty or ``off`` (the compose file's default: a
    compose implementation may not substitute an empty default)."""
    value = (value or "").strip()
    return None if value.lower() in ("", "off") else value
