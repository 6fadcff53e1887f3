"""The Celery worker's entry point: ``celery -A app.tasks worker --pool=solo`` (needs REDIS_URL).

The worker builds the same Dash app as the web processes, so the background callbacks it runs
are the ones the dashboard registered. ``--pool=solo`` runs jobs in the worker process itself
(no fork after torch has run: docs/architecture.md); with the prefork pool, each child sets its torch
threads on start.
"""

import torch
from celery.signals import worker_process_init

from app.config import Config
from app.main import create_app

config = Config.from_env()
if not config.redis_url:
    raise RuntimeError("the Celery worker needs REDIS_URL (the broker and result backend)")
dash_app = create_app(config)
celery_app = dash_app.server.extensions["funnelscope_celery"]


@worker_process_init.connect
def _one_torch_thread(**_: object) -> None:
    torch.set_num_threads(config.torch_threads)
