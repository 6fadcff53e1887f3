"""Fair shares of the compute between students: at most N running jobs per client.

A *client* is one browser session (the dashboard: a random id the page keeps in its session
storage, :data:`app.ids.CLIENT_ID`) or one remote address (``POST /api/view``; the lab token is
shared by every student, so it is no identity). Behind a reverse proxy that gunicorn trusts
(``FORWARDED_ALLOW_IPS``, gunicorn's default ``127.0.0.1,::1``) the address is the last hop the
proxy added to ``X-Forwarded-For`` (:func:`api_client`). A job without a client id (a page
from before this rule) runs without a slot. Each job of a client takes a *ticket*; tickets
run in arrival order, at most ``limit`` at once per client (``FUNNELSCOPE_JOBS_PER_CLIENT``), and
a waiting job learns how many are ahead of it (the panel shows "queued: N ahead"). Clients never
wait for each other here: one student's queue does not hold up another's jobs.

Two implementations of the same rules, both across processes:

- :class:`RedisSlots` (with ``REDIS_URL``: gunicorn workers and Celery workers on any machine):
  a sorted set of tickets per client, scored by arrival time, and a short-lived
  heartbeat key per ticket that a thread of its holder refreshes. A killed holder's heartbeat
  expires within :data:`HEARTBEAT_TTL` seconds, and the next look at the queue drops its ticket.
  The heartbeat also puts a ticket back if Redis restarted empty. Redis unreachable: a waiter
  keeps its place for :data:`UNREACHABLE_WAIT` seconds (a restart), then runs without waiting
  (logged), as the view cache and locks degrade; a job that finds Redis down as it starts runs.
- :class:`FileSlots` (one machine, no Redis): a ticket file per job under
  ``<cache dir>/fair/<client>/``, held with ``flock`` by its live holder from before it is
  visible (created under a temporary name, renamed once locked). A ticket whose lock can be
  taken has no live holder: the next look deletes it.

A job that leaves normally (done, failed, or cancelled by an exception) removes its ticket; a
killed one (Cancel kills the job's process; ``kill -9``) leaves a ticket that is stale within
seconds (Redis) or at once (files).

Serving comes before computing: every thread that computes views -- the API's compute threads
(:func:`compute_pool`), a panel job's process or Celery worker -- runs at the nice value
``FUNNELSCOPE_COMPUTE_NICE`` (:func:`lower_priority`; Linux keeps a nice value per thread), so the
request threads that send pages, cached views and ``/healthz`` get the CPU first, whatever one
student computes.
"""

import contextlib
import fcntl
import hashlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

HEARTBEAT_TTL = 3.0  # seconds a Redis ticket lives after its holder's last heartbeat
HEARTBEAT_EVERY = 0.5  # seconds between heartbeats
POLL = 0.1  # seconds between looks at the queue while waiting
UNREACHABLE_WAIT = 10.0  # seconds a waiter keeps its place while Redis is unreachable (a restart)
PREFIX = "funnelscope:fair:"

OnWait = Callable[[int], None]


class Busy(Exception):
    """The client already has as many jobs waiting as it may (``max_waiting``)."""

    def __init__(self, ahead: int) -> None:
        super().__init__(f"{ahead} of this client's jobs are ahead of this one")
        self.ahead = ahead


def lower_priority(nice: int) -> None:
    """Run the calling thread at nice value ``nice`` (0-19; higher: less CPU when others want
    it) unless it already runs at that or lower priority. Linux keeps a nice value per thread;
    where the thread's cannot be set, nothing changes. A thread never gets its priority back (an
    unprivileged process may not raise it), so only threads that compute call this."""
    if nice <= 0:
        return
    try:
        tid = threading.get_native_id()
        if os.getpriority(os.PRIO_PROCESS, tid) < nice:
            os.setpriority(os.PRIO_PROCESS, tid, min(nice, 19))
    except (AttributeError, OSError) as exc:  # not Linux, or not permitted
        log.debug("could not lower the priority of a computing thread: %s", exc)


def compute_pool(size: int, nice: int) -> ThreadPoolExecutor:
    """``size`` threads at nice value ``nice`` (:func:`lower_priority`) that compute views for the
    request threads, which wait for them at their own priority."""
    return ThreadPoolExecutor(max_workers=max(1, size), thread_name_prefix="compute",
                              initializer=lower_priority, initargs=(nice,))


def client_key(client: str) -> str:
    """A short, safe name for an untrusted client id (hex: usable in file names and keys)."""
    return hashlib.sha256(client.encode()).hexdigest()[:24]


def api_client(remote_addr: str | None, forwarded_for: str | None,
               trusted: str | None = None) -> str:
    """The client of an API request: its address, or, from a proxy gunicorn trusts
    (``trusted``: FORWARDED_ALLOW_IPS, comma-separated, ``*`` for any), the last address that
    proxy appended to ``X-Forwarded-For`` (earlier entries come from the client: not trusted)."""
    trusted = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1") if trusted is None else trusted
    proxies = {t.strip() for t in trusted.split(",")}
    remote = remote_addr or "?"
    if forwarded_for and ("*" in proxies or remote in proxies):
        last = forwarded_for.split(",")[-1].strip()
        if last:
            return last
    return remote


def ahead_of(position: int, limit: int) -> int:
    """Tickets that must start before the one at ``position`` (0: the oldest live ticket of its
    client) may run: 0 means it runs now."""
    return max(0, position - limit + 1)


class Slots(Protocol):
    limit: int

    def slot(self, client: str | None, on_wait: OnWait | None = None,
             max_waiting: int | None = None) -> contextlib.AbstractContextManager[None]:
        """Wait for a running slot of ``client`` (``on_wait(ahead)`` each time the count of
        tickets ahead changes while it waits); Busy at once if more than ``max_waiting`` are
        ahead. The slot is held for the ``with`` block."""
        ...


class Unlimited:
    """No limit (``FUNNELSCOPE_JOBS_PER_CLIENT=0``)."""

    limit = 0

    @contextlib.contextmanager
    def slot(self, client: str | None, on_wait: OnWait | None = None,
             max_waiting: int | None = None) -> Iterator[None]:
        yield


def _wait(position: Callable[[], int | None], limit: int, on_wait: OnWait | None,
          max_waiting: int | None) -> None:
    """Poll ``position()`` (None: give up waiting, run) until the ticket may run."""
    reported = None
    while True:
        where = position()
        if where is None:
            return
        ahead = ahead_of(where, limit)
        if ahead == 0:
            return
        if max_waiting is not None and ahead > max_waiting:
            raise Busy(ahead)
        if ahead != reported and on_wait is not None:
            on_wait(ahead)
        reported = ahead
        time.sleep(POLL)


class FileSlots:
    """Per-client slots among the processes of one machine: flock-held ticket files."""

    def __init__(self, directory: Path, limit: int) -> None:
        self.directory = Path(directory)
        self.limit = limit

    @contextlib.contextmanager
    def slot(self, client: str | None, on_wait: OnWait | None = None,
             max_waiting: int | None = None) -> Iterator[None]:
        if not client:
            yield
            return
        folder = self.directory / client_key(client)
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex}.ticket"  # arrival order by name
        ticket = folder / name
        temporary = folder / (name + ".new")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fh = open(temporary, "w")  # noqa: SIM115 -- held (and locked) for the whole slot
        except OSError as exc:  # a full or read-only cache directory: run, unthrottled
            log.warning("no fair slot (ticket files in %s: %s); running without one", folder, exc)
            yield
            return
        try:
            fcntl.flock(fh, fcntl.LOCK_EX)  # before the ticket is visible: never seen unlocked
            os.rename(temporary, ticket)
            _wait(lambda: self._position(folder, name), self.limit, on_wait, max_waiting)
            yield
        finally:
            for path in (temporary, ticket):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            fh.close()  # releases the lock

    @staticmethod
    def _position(folder: Path, name: str) -> int:
        """How many live tickets of this client are older than ``name``; stale ones go."""
        older = sorted(p for p in os.listdir(folder) if p.endswith(".ticket") and p < name)
        live = 0
        for other in older:
            if _held(folder / other):
                live += 1
        return live


def _held(path: Path) -> bool:
    """Whether a live process holds the ticket at ``path``; a stale ticket is deleted."""
    try:
        fh = open(path)  # noqa: SIM115
    except FileNotFoundError:
        return False  # its holder finished
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        with contextlib.suppress(FileNotFoundError):  # no holder: it died
            path.unlink()
        return False


class RedisSlots:
    """Per-client slots among processes on any machine, in Redis (see the module docstring)."""

    def __init__(self, url: str, limit: int, ttl: float = HEARTBEAT_TTL) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2,
                                           decode_responses=True)
        self.limit = limit
        self.ttl = ttl

    def _keys(self, client: str) -> tuple[str, Callable[[str], str]]:
        queue = PREFIX + "queue:" + client_key(client)
        return queue, lambda ticket: PREFIX + "alive:" + ticket

    @contextlib.contextmanager
    def slot(self, client: str | None, on_wait: OnWait | None = None,
             max_waiting: int | None = None) -> Iterator[None]:
        import redis

        if not client:
            yield
            return
        queue, alive = self._keys(client)
        ticket = uuid.uuid4().hex
        score = time.time_ns() // 1000  # arrival order: microseconds (exact in a double)
        try:
            self._beat(queue, alive(ticket), ticket, score)
            reachable = True
        except redis.RedisError:
            log.warning("fair slots: Redis unreachable; running without a slot")
            reachable = False
        if not reachable:
            yield
            return
        stop = threading.Event()
        beat = threading.Thread(target=self._beats,
                                args=(stop, queue, alive(ticket), ticket, score),
                                name="fair-slot-heartbeat", daemon=True)
        beat.start()
        down_since: float | None = None
        last = self.limit  # where it waits while Redis cannot say

        def position() -> int | None:
            nonlocal down_since, last
            got = self._position(queue, alive, ticket, score)
            if got is not None:
                down_since, last = None, got
                return got
            down_since = down_since or time.monotonic()
            if time.monotonic() - down_since < UNREACHABLE_WAIT:
                return last
            log.warning("fair slots: Redis unreachable for %.0f s; running without waiting",
                        UNREACHABLE_WAIT)
            return None

        try:
            _wait(position, self.limit, on_wait, max_waiting)
            yield
        finally:
            stop.set()
            beat.join()
            with contextlib.suppress(redis.RedisError):
                pipe = self.client.pipeline()
                pipe.zrem(queue, ticket)
                pipe.delete(alive(ticket))
                pipe.execute()

    def _beat(self, queue: str, alive: str, ticket: str, score: int) -> None:
        pipe = self.client.pipeline()
        pipe.set(alive, "1", px=int(self.ttl * 1000))
        pipe.zadd(queue, {ticket: score}, nx=True)  # back after a Redis restart
        pipe.expire(queue, 3600)  # an idle client's queue goes
        pipe.execute()

    def _beats(self, stop: threading.Event, queue: str, alive: str, ticket: str,
               score: int) -> None:
        import redis

        while not stop.wait(HEARTBEAT_EVERY):
            try:
                self._beat(queue, alive, ticket, score)
            except redis.RedisError:
                pass  # Redis restarting: the next beat puts the ticket back

    def _position(self, queue: str, alive: Callable[[str], str], ticket: str,
                  score: int) -> int | None:
        """Live tickets older than ``ticket``; stale ones are dropped. None: Redis unreachable."""
        import redis

        try:
            mine = self.client.zscore(queue, ticket)
            if mine is None:  # Redis restarted empty: back in line, in the same place, once
                self._beat(queue, alive(ticket), ticket, score)  # the older tickets' holders
                time.sleep(2 * HEARTBEAT_EVERY)  # have put theirs back too
                mine = score
            older = [str(t) for t in self.client.zrangebyscore(queue, "-inf", f"({mine}")]
            if not older:
                return 0
            pipe = self.client.pipeline()
            for other in older:
                pipe.exists(alive(other))
            living = pipe.execute()
            dead = [t for t, up in zip(older, living, strict=True) if not up]
            if dead:
                self.client.zrem(queue, *dead)
            return len(older) - len(dead)
        except redis.RedisError:
            return None


def slots(limit: int, redis_url: str | None, cache_dir: Path) -> Slots:
    """The slots for a setting: Redis with a URL, ticket files under ``cache_dir/fair``
    otherwise; no limit for ``limit <= 0``."""
    if limit <= 0:
        return Unlimited()
    if redis_url:
        return RedisSlots(redis_url, limit)
    return FileSlots(Path(cache_dir) / "fair", limit)


def register(app) -> None:
    """The page makes its session's client id once (``clientId`` in app/assets/funnelscope.js); the
    store keeps it in the browser's session storage, so a reload keeps it and a new tab (or
    another browser) gets its own."""
    from dash import Input, Output, State

    from app import ids
    from app.callbacks.camera import clientside

    app.clientside_callback(clientside("clientId"),
                            Output(ids.CLIENT_ID, "data"),
                            Input(ids.CLIENT_ID, "modified_timestamp"),
                            State(ids.CLIENT_ID, "data"))
