"""gunicorn settings for the dashboard: ``gunicorn -c gunicorn.conf.py app.wsgi:server``.

The Docker image runs exactly that command (see Dockerfile; tests/unit/test_deploy.py runs it too).
Environment:

FUNNELSCOPE_BIND     address to listen on (default 0.0.0.0:8050)
FUNNELSCOPE_WORKERS  worker processes (default 2); each holds its own torch and computes views
FUNNELSCOPE_THREADS  request threads per worker (default 4; gthread worker)

Size for the machine: FUNNELSCOPE_WORKERS x FUNNELSCOPE_TORCH_THREADS <= CPU cores (see
docs/teaching-lab.md). The app's own settings (FUNNELSCOPE_CACHE_DIR, ...) are read by
app/config.py in each worker.
"""

import os

bind = [os.environ.get("FUNNELSCOPE_BIND", "0.0.0.0:8050")]
workers = int(os.environ.get("FUNNELSCOPE_WORKERS", "2"))
threads = int(os.environ.get("FUNNELSCOPE_THREADS", "4"))
worker_class = "gthread"

# A view can take tens of seconds on a cold cache (network slices, enumeration).
timeout = 120
graceful_timeout = 30
keepalive = 5

# Logs to stdout/stderr: `docker compose logs` collects them.
accesslog = "-"
errorlog = "-"

# Import the app in each worker, after the fork, never in the master: a torch op in the parent
# followed by fork can hang workers in the OpenMP barrier (docs/architecture.md).
preload_app = False

# gunicorn >= 25.1 opens a control socket (under $XDG_RUNTIME_DIR or $HOME/.gunicorn) by default,
# which fails or litters under a non-root user in a container; nothing here uses `gunicornc`.
# This is the config-file form of `--no-control-socket` (gunicorn's ControlSocketDisable setting).
control_socket_disable = True

# Worker heartbeat files in memory: in a container /tmp may be a slow overlay filesystem.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
