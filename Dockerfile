# Funnelscope dashboard for a teaching lab: gunicorn serving app.wsgi:server on port 8050.
#   docker compose up -d --build        (see docker-compose.yml and docs/teaching-lab.md)
# The CMD below is the command tests/unit/test_deploy.py starts and checks; the dependencies are
# the exact pins in requirements/constraints.txt, made from the tested virtualenv.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A numeric non-root user, with a passwd entry (getpass.getuser(), used by torch, needs one).
RUN groupadd --system --gid 10001 funnelscope \
    && useradd --system --uid 10001 --gid 10001 --no-log-init --create-home \
       --home-dir /home/funnelscope --shell /usr/sbin/nologin funnelscope \
    && mkdir -p /data/cache \
    && chown -R 10001:10001 /data

WORKDIR /app

# Dependencies first (their own layer, rebuilt only when the pins change): the constraints
# file lists every runtime package at its exact tested version, so it is installed as the
# requirements themselves; torch is the CPU wheel from PyTorch's CPU index (an
# unpinned torch from PyPI pulls a multi-GB CUDA build).
COPY requirements/constraints.txt requirements/constraints.txt
RUN pip install --no-cache-dir \
        --extra-index-url https://download.pytorch.org/whl/cpu \
        -r requirements/constraints.txt

# The source. It is installed *editable*: app/main.py serves the repo-root `assets/` folder
# next to `app/` (ASSETS = <app>/../assets), which a regular install would look for inside
# site-packages, where it does not exist. Editable, `app` and `landscapes` are imported from
# /app, assets are found at /app/assets, and the `landscapes` and `funnelscope` commands are on PATH.
# --no-deps: everything was installed from the pins above; `pip check` proves they satisfy
# pyproject.toml's requirements.
COPY pyproject.toml README.md ./
COPY landscapes/ landscapes/
COPY app/ app/
COPY assets/ assets/
COPY gunicorn.conf.py ./
RUN pip install --no-cache-dir --no-deps -e . \
    && pip check \
    && test -f /app/assets/style.css

# Cached views (views/), validated uploads + trained examples (store/) and numba's compiled
# kernels (numba/; /app is not writable for the runtime user) live on the volume.
ENV FUNNELSCOPE_CACHE_DIR=/data/cache \
    NUMBA_CACHE_DIR=/data/cache/numba \
    FUNNELSCOPE_BIND=0.0.0.0:8050
VOLUME ["/data"]
EXPOSE 8050

# Liveness through /healthz, with Python's urllib (the slim image has no curl).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ.get('FUNNELSCOPE_BIND', '0.0.0.0:8050').rsplit(':', 1)[1]; urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)"]

USER 10001
CMD ["gunicorn", "-c", "gunicorn.conf.py", "app.wsgi:server"]
