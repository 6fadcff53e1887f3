# Funnelscope dashboard for a teaching lab: gunicorn serving app.wsgi:server on port 8050.
#   docker compose up -d --build        (see docker-compose.yml and docs/teaching-lab.md)
#   make image                          (builds this image and smoke-tests it: tests/containers/)
# The CMD below is the command tests/unit/test_deploy.py starts and checks; the dependencies are
# the exact pins in requirements/constraints.txt, made from the tested virtualenv.

# --- build: the project's wheel (the same one `pip wheel .` makes anywhere) ---------------------
FROM python:3.11-slim AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY landscapes/ landscapes/
# app/assets/ carries plotly-partial.min.js when make has built it (plotlyjs/; `make image`
# does); an image built without it serves the page with Dash's full plotly.js.
COPY app/ app/
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# --- runtime: the pinned dependencies, then the wheel; no source tree ---------------------------
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

# The project: its wheel from the build stage, installed like any package (the dashboard's CSS
# and JS are package data inside it: app/assets/). --no-deps: everything was installed from the
# pins above; `pip check` proves they satisfy pyproject.toml's requirements. /app holds only
# gunicorn's settings; `app` and `landscapes` are imported from site-packages.
COPY --from=build /wheels/ /tmp/wheels/
RUN pip install --no-cache-dir --no-deps /tmp/wheels/funnelscope-*.whl \
    && rm -rf /tmp/wheels \
    && pip check \
    && python -c "from app.main import ASSETS; assert (ASSETS / 'style.css').is_file(), ASSETS"
COPY gunicorn.conf.py ./

# Cached views (views/), validated uploads + trained examples (store/) and numba's compiled
# kernels (numba/; site-packages is not writable for the runtime user) live on the volume.
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
