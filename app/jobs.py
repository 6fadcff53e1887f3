"""Background jobs on one machine, forked from a process that has no other threads.

Dash's ``DiskcacheManager`` starts each job by forking the web process. A fork copies only the
forking thread, so every lock another request thread holds at that instant stays held forever in
the job. Both ways this bit the dashboard in the browser tests (found with gdb on hung jobs):

- an import lock: a request thread was importing ``plotly.colors`` (plotly imports lazily) when a
  job forked; the job's own first figure waited on that module's import lock forever;
- SQLite: Dash polls every running job through the same diskcache four times a second per panel;
  a job forked while a poll was inside SQLite hung or failed with ``diskcache.Timeout`` on its
  first write (4 polling threads, 80 forked jobs: 3 to 9 lost per run).

:class:`ForkServerDiskcacheManager` forks one *job server* when the app is built -- before the web
server starts its threads -- and asks it, over a pipe, to fork each job. The job server only ever
waits on the pipe, so it holds no lock when it forks. Job processes are the job server's
children; the web process cancels them by pid as before (``terminate_job``), and the kernel reaps
them when they end. The job server exits when the web process closes the pipe (it exits or the
manager is garbage-collected).
"""

import contextlib
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from multiprocessing import Pipe
from multiprocessing.connection import Connection

import psutil
from dash import CeleryManager, DiskcacheManager

log = logging.getLogger(__name__)

# signals a web server (gunicorn's worker) may have taken over; the job server and jobs use the
# defaults, so SIGTERM ends them
_RESET_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
                  signal.SIGUSR2, signal.SIGWINCH, signal.SIGTTIN, signal.SIGTTOU, signal.SIGCHLD)


class JobServer:
    """A forked process that forks jobs: ``start(name, *args)`` runs ``jobs[name](*args)``.

    Create it while the process has no other threads: the job server is a copy of this process
    as it is now, and every job is a copy of the job server. Thread-safe.
    """

    def __init__(self, jobs: Mapping[str, Callable]) -> None:
        ours, theirs = Pipe()
        self._lock = threading.Lock()
        self.pid = os.fork()
        if self.pid == 0:  # the job server: never returns
            ours.close()
            _serve(theirs, jobs)
        theirs.close()
        self._conn: Connection = ours

    def start(self, name: str, *args) -> int:
        """Fork a job process running ``jobs[name](*args)``; its pid.

        Raises ``OSError`` (``BrokenPipeError``, ``EOFError`` included) when the job server has
        gone.
        """
        with self._lock:
            try:
                self._conn.send((name, args))
                return self._conn.recv()
            except EOFError as exc:
                raise OSError("the job server has exited") from exc

    def close(self) -> None:
        """Close the pipe: the job server exits (running jobs finish) once no process holds
        this end any more -- job servers forked later hold copies of it until they exit too."""
        self._conn.close()


def _serve(conn: Connection, jobs: Mapping[str, Callable]) -> None:
    """The job server's loop: fork a job per request, send back its pid; exit at end of pipe."""
    try:
        for sig in _RESET_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps finished jobs
        while True:
            try:
                name, args = conn.recv()
            except (EOFError, OSError):  # the web process has gone
                break
            pid = os.fork()
            if pid == 0:
                _run_job(conn, jobs[name], args)
            conn.send(pid)
    finally:
        os._exit(0)


def _run_job(conn: Connection, job: Callable, args: tuple) -> None:
    """In a job process: run ``job(*args)``, then exit (0, or 1 on an uncaught exception)."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        conn.close()
        job(*args)
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


class ForkServerDiskcacheManager(DiskcacheManager):
    """A ``DiskcacheManager`` whose jobs fork from a :class:`JobServer`.

    Call :meth:`start_job_server` once every background callback is registered, before the web
    server starts threads. Until then (and if the job server has died) jobs fork from the
    calling thread, as Dash's manager does, and a warning is logged.
    """

    def __init__(self, cache=None, cache_by=None, expire=None) -> None:
        super().__init__(cache, cache_by, expire)
        self.job_server: JobServer | None = None

    def start_job_server(self) -> None:
        self.job_server = JobServer(self.func_registry)

    def stop_job_server(self) -> None:
        """Stop the job server (later jobs fork from the calling thread, with a warning)."""
        if self.job_server is not None:
            self.job_server.close()
            self.job_server = None

    def terminate_job(self, job) -> None:
        """Kill job ``job`` (a pid) and what it started, if it still runs.

        Dash's own version fails (psutil.NoSuchProcess, a 500 for the request that replaces
        the job) when the job ends between its checks, and the kernel reaps our jobs at once.
        A job is a fork of this program, perhaps of another web worker's job server (a cancel
        may reach any worker): a pid that now names another program (pids are reused) is left
        alone.
        """
        if job is None:
            return
        with self.handle.transact():  # as Dash's: processes do not kill the same job at once
            try:
                process = psutil.Process(int(job))
                if process.cmdline() != psutil.Process().cmdline():
                    return
                for child in process.children(recursive=True):
                    with contextlib.suppress(psutil.NoSuchProcess):
                        child.kill()
                process.kill()
            except psutil.NoSuchProcess:
                pass

    def cancelled(self) -> bool:
        """Whether this job was cancelled: never seen from inside, as a cancel kills it."""
        return False

    def call_job_fn(self, key, job_fn, args, context):
        names = [name for name, fn in self.func_registry.items() if fn is job_fn]
        if self.job_server is not None and names:
            try:
                return self.job_server.start(names[0], key, self._make_progress_key(key),
                                             args, dict(context))
            except OSError:
                log.warning("the job server has gone; forking this job from the web process",
                            exc_info=True)
                self.job_server = None
        else:
            log.warning("no job server; forking this job from the web process")
        return super().call_job_fn(key, job_fn, args, context)


CANCEL_PREFIX = "funnelscope:cancel:"  # + a Celery job's id: its panel asked to cancel it
CANCEL_SECONDS = 3600  # how long a cancel mark is kept (longer than any job)


class CancellingCeleryManager(CeleryManager):
    """Dash's ``CeleryManager`` whose cancel reaches a job that is running.

    Dash cancels a Celery job by revoking its task with ``terminate=True``, which the worker's
    solo pool cannot do to the task it is running (and cannot even hear while it runs). So
    :meth:`terminate_job` also leaves a mark in Redis, and a running job asks :meth:`cancelled`
    at its progress reports (``app/callbacks/panels.py``): the job then stops, and with it every
    chunk of its view on other workers (``app/spread.py``).
    """

    def __init__(self, celery_app, client) -> None:
        super().__init__(celery_app)
        self.client = client

    def terminate_job(self, job) -> None:
        if job is None:
            return
        try:
            self.client.set(CANCEL_PREFIX + str(job), 1, ex=CANCEL_SECONDS)
        except Exception:  # Redis down: the revoke below is all there is
            log.warning("could not mark job %s cancelled", job, exc_info=True)
        super().terminate_job(job)

    def cancelled(self) -> bool:
        """Inside a job: whether its panel cancelled it (False where Redis cannot answer)."""
        from celery import current_task

        job = getattr(getattr(current_task, "request", None), "id", None)
        if not job:
            return False
        try:
            return bool(self.client.exists(CANCEL_PREFIX + str(job)))
        except Exception:
            return False
