"""One view's chunks on every Celery worker that listens (with REDIS_URL).

A view computing in a Celery job (or an API request) that has enough independent blocks
(:func:`landscapes.chunks.map_blocks`) puts its chunks in a work list in Redis and sends
*helper* tasks to the workers; the computing process and every helper that starts take chunks
from the list until it is empty, so a view never waits for a worker that is busy elsewhere (the
computing process would take every chunk itself) and every free worker joins in, on any host
that listens to the same Redis. A helper computes the same view (the same request, so the same
model and directions) as far as the chunked call, then takes chunks instead of computing them
all; its chunk values go back through Redis packed as ``.npz`` (never a pickle:
:func:`landscapes.chunks.pack`). The chunks are whole runs of the view's own blocks, so the
result is the one process's bit for bit.

- **Progress** counts the blocks every process has finished (one counter in Redis).
- **Lost workers**: a helper holds a lease on the chunk it computes, renewed every second by a
  thread; a helper that dies (``kill -9``, out of memory, a lost host) stops renewing it, and
  after :data:`LEASE_SECONDS` its chunk goes back on the list, once. Lost a second time, the
  view fails with one line saying so. A helper's own failure (Redis timing out, memory, a bug)
  drops its lease at once, the same way; only the view's own error (a LandscapeError, the same
  the computing process would meet) fails the view, with its message.
- **Cancel** (the panel's button, a closed page, the compute budget): the computing process
  stops at its next progress report and, leaving, deletes the view's keys, its own lease
  included; each helper stops at its next block once that lease is gone. A computing process
  that dies stops renewing its lease, which expires after :data:`LEASE_SECONDS`.
- **Identical requests** compute once: the view store's lock is taken by the computing process
  only; helpers neither read nor write the view cache.

Keys live under ``funnelscope:chunks:<id>:`` and expire within :data:`KEYS_SECONDS` whatever
happens.
"""

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from landscapes import budget, chunks
from landscapes.errors import BudgetExceeded, Cancelled, LandscapeError
from landscapes.registry import Progress

log = logging.getLogger(__name__)

PREFIX = "funnelscope:chunks:"
TASK = "funnelscope.help_with_view"
LEASE_SECONDS = 5.0  # a claimed chunk (and a computing view) is given up this long after its
# process stopped renewing it (every RENEW_SECONDS)
RENEW_SECONDS = 1.0
RETRIES = 1  # times a lost chunk goes back on the list before the view fails
WAIT_SECONDS = 0.1  # the computing process's poll for chunks the helpers still compute
CHECK_SECONDS = 0.5  # while it waits, progress (and so the budget and cancel checks) this often
KEYS_SECONDS = 3600  # every key of a view's chunks expires within this

# pop a chunk's index and take its lease in one step: a chunk is never off the list unleased
_CLAIM = """
local index = redis.call('LPOP', KEYS[1])
if index then redis.call('SET', KEYS[2] .. index, ARGV[1], 'PX', ARGV[2]) end
return index
"""
# renew (ARGV[2] ms) or, without ARGV[2], delete a lease only while ARGV[1] holds it: a holder
# that stalled past its lease must not extend or free the next holder's
_RENEW = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return redis.call('DEL', KEYS[1])
"""


class Keys:
    """The Redis keys of one spread call."""

    def __init__(self, job: str) -> None:
        base = PREFIX + job + ":"
        self.todo, self.bounds, self.results = base + "todo", base + "bounds", base + "results"
        self.attempts, self.done, self.error = base + "attempts", base + "done", base + "error"
        self.alive, self.lease, self.shape = base + "alive", base + "lease:", base + "shape"

    def all(self) -> list[str]:
        return [self.todo, self.bounds, self.results, self.attempts, self.done, self.error,
                self.alive, self.shape]


@contextmanager
def renewing(client: Any, key: str, value: str = "1", taken: bool = False) -> Iterator[None]:
    """Hold ``key`` with ``value`` (set now, or already ``taken``): renewed to LEASE_SECONDS
    every RENEW_SECONDS by a thread until the block ends, then deleted -- both only while it
    still holds ``value``; a process that dies lets it expire."""
    ttl = int(LEASE_SECONDS * 1000)
    if not taken:
        client.set(key, value, px=ttl)
    held = client.register_script(_RENEW)
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(RENEW_SECONDS):
            try:
                held(keys=[key], args=[value, ttl])
            except Exception:  # Redis gone: the view fails where it next asks Redis
                log.warning("could not renew %s", key, exc_info=True)

    thread = threading.Thread(target=renew, daemon=True, name=f"renew {key}")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        try:
            held(keys=[key], args=[value])
        except Exception:
            log.warning("could not delete %s", key, exc_info=True)


class RedisSpread:
    """Spreads :func:`landscapes.chunks.map_blocks` calls of the view ``request`` (model spec,
    view spec) over up to ``workers`` processes: this one and the helpers ``send(job, call,
    model_spec, view_spec)`` starts (a Celery task each)."""

    def __init__(self, client: Any, send: Callable[[str, int, dict, dict], None], workers: int,
                 request: tuple[dict, dict]) -> None:
        self.client, self.send, self.count, self.request = client, send, workers, request
        self.claim = client.register_script(_CLAIM)

    def workers(self) -> int:
        return self.count

    def run(self, call: int, bounds: list[tuple[int, int]], evaluate: chunks.Evaluate,
            block: int, total: int, progress: Progress) -> list[list]:
        job = uuid.uuid4().hex
        keys, client = Keys(job), self.client
        with client.pipeline() as pipe:
            pipe.rpush(keys.todo, *range(len(bounds)))
            pipe.hset(keys.bounds, mapping={i: f"{a}:{b}" for i, (a, b) in enumerate(bounds)})
            pipe.set(keys.done, 0)
            pipe.set(keys.shape, f"{total}:{block}")  # a helper checks it computes the same
            for key in keys.all():
                pipe.expire(key, KEYS_SECONDS)
            pipe.execute()
        try:
            with renewing(client, keys.alive):
                try:
                    for _ in range(min(self.count, len(bounds)) - 1):
                        self.send(job, call, *self.request)
                except Exception:  # no broker: this process computes every chunk itself
                    log.warning("could not ask the workers for help with a view", exc_info=True)
                self._work(keys, bounds, evaluate, block, total, progress)
            values = client.hgetall(keys.results)
            log.info("chunks of a view: %d on up to %d processes, the largest %d bytes",
                     len(bounds), self.count, max(len(v) for v in values.values()))
            return [chunks.unpack(values[str(i).encode()]) for i in range(len(bounds))]
        finally:  # done, failed or cancelled: the helpers stop at their next block
            client.delete(*keys.all())

    def _work(self, keys: Keys, bounds: list[tuple[int, int]], evaluate: chunks.Evaluate,
              block: int, total: int, progress: Progress) -> None:
        """Take chunks until none is left, then wait for the helpers' chunks, putting lost
        ones back on the list; progress all along."""
        client = self.client
        last = [-1, 0.0]  # the count last reported, and when

        def report(items: int = 0) -> None:
            done = client.incrby(keys.done, items) if items else int(client.get(keys.done) or 0)
            now = time.monotonic()
            if progress and (done != last[0] or now - last[1] > CHECK_SECONDS):
                last[:] = done, now  # a lost chunk's blocks count again when computed again
                progress(min(done, total), total)

        while True:
            index = self.claim(keys=[keys.todo, keys.lease], args=["parent", 1000 * KEYS_SECONDS])
            if index is not None:
                a, b = bounds[int(index)]
                try:
                    values = chunks.run_chunk(evaluate, block, a, b, report)
                    client.pipeline().hset(keys.results, int(index), chunks.pack(values)) \
                        .expire(keys.results, KEYS_SECONDS).execute()
                finally:
                    client.delete(keys.lease + index.decode())
                continue
            failure = client.get(keys.error)
            if failure is not None:
                raise LandscapeError(failure.decode())
            finished = client.hkeys(keys.results)
            if len(finished) == len(bounds):
                if progress:  # the last chunks may have ended between two reports
                    progress(total, total)
                return
            self._requeue_lost(keys, len(bounds), {int(i) for i in finished})
            report()
            budget.check()  # also where no progress is reported (a Bezier path's points)
            time.sleep(WAIT_SECONDS)

    def _requeue_lost(self, keys: Keys, count: int, finished: set[int]) -> None:
        """Chunks neither finished, nor on the list, nor leased: their helper died. Back on
        the list once; the second time the view fails."""
        client = self.client
        queued = {int(i) for i in client.lrange(keys.todo, 0, -1)}
        for index in set(range(count)) - finished - queued:
            if client.exists(keys.lease + str(index)) or client.hexists(keys.results, index):
                continue
            attempts, _ = client.pipeline().hincrby(keys.attempts, index, 1) \
                .expire(keys.attempts, KEYS_SECONDS).execute()
            if attempts > RETRIES:
                raise LandscapeError(
                    "two worker processes were lost computing the same part of this view "
                    "(killed, or out of memory); the view was not finished")
            log.warning("a worker was lost computing chunk %d of a view: computing it again",
                        index)
            client.pipeline().rpush(keys.todo, index).expire(keys.todo, KEYS_SECONDS).execute()


class RedisHelper:
    """A helper's side of :class:`RedisSpread`: chunks of the call ``call`` of view ``job``."""

    def __init__(self, client: Any, job: str, call: int) -> None:
        self.client, self.keys, self.call = client, Keys(job), call
        self.claim = client.register_script(_CLAIM)
        self.me = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"  # a lease's holder

    def wanted(self) -> bool:
        """Whether the view still runs and has chunks left (else a helper need not start)."""
        return not self.stopped() and bool(self.client.llen(self.keys.todo))

    def stopped(self) -> bool:
        """Whether the computing process has finished, failed, stopped or died."""
        return not self.client.exists(self.keys.alive)

    def serve(self, evaluate: chunks.Evaluate, total: int, block: int) -> None:
        keys, client = self.keys, self.client
        shape = client.get(keys.shape)
        if shape is not None and shape.decode() != f"{total}:{block}":
            log.warning("not helping with view chunks of %s items, %s a block: this process's "
                        "call has %d, %d (another version of the code?)",
                        *shape.decode().split(":"), total, block)
            return

        def done(items: int) -> None:
            # with an expiry: the view may have ended (and its keys gone) since the check
            client.pipeline().incrby(keys.done, items).expire(keys.done, KEYS_SECONDS).execute()
            if self.stopped():
                raise chunks.Helped

        while not self.stopped():
            index = self.claim(keys=[keys.todo, keys.lease],
                               args=[self.me, int(LEASE_SECONDS * 1000)])
            if index is None:
                return
            name = index.decode()
            with renewing(client, keys.lease + name, self.me, taken=True):
                bounds = client.hget(keys.bounds, name)
                if bounds is None:  # the view ended since the claim
                    raise chunks.Helped
                a, b = (int(x) for x in bounds.split(b":"))
                try:
                    values = chunks.run_chunk(evaluate, block, a, b, done)
                except (chunks.Helped, Cancelled, BudgetExceeded):
                    raise
                except LandscapeError as exc:  # the view's own error: the computing process says it
                    client.set(keys.error, str(exc), ex=KEYS_SECONDS)
                    raise
                # anything else (Redis, memory, a bug) drops the lease: the chunk is computed
                # again elsewhere, and a bug then fails there with its own traceback
                client.pipeline().hset(keys.results, name, chunks.pack(values)) \
                    .expire(keys.results, KEYS_SECONDS).execute()


def help_with_view(client: Any, job: str, call: int, model_spec: dict, view_spec: dict,
                   compute: Callable[..., Any]) -> str:
    """A helper task's work: compute the view with ``compute(model_spec, view_spec,
    cancelled)`` as far as its chunked call, then chunks of it until none is left; the set-up
    before that call (the model, its directions) stops too once the view has ended. Returns
    what it did, for the log."""
    helper = RedisHelper(client, job, call)
    if not helper.wanted():
        return "nothing left to help with"
    with chunks.helping(helper):
        try:
            compute(model_spec, view_spec, helper.stopped)
        except chunks.Helped:
            return "helped"
        except LandscapeError as exc:  # cancelled, past its budget, or the view's own error
            return f"stopped: {exc}"
    return "the view had no chunked call (computed whole, not used)"


def register(celery_app: Any, client: Any, store: Any, workers: int, nice: int) -> None:
    """Spread the chunks of ``store``'s computations over up to ``workers`` processes (this one
    and Celery workers; 1: none), and register the helper task the workers run (at nice value
    ``nice``, as the views: app/fairness.py)."""
    from app import fairness

    @celery_app.task(name=TASK, ignore_result=True)
    def help_with(job: str, call: int, model_spec: dict, view_spec: dict) -> str:
        fairness.lower_priority(nice)
        return help_with_view(client, job, call, model_spec, view_spec, store.compute_uncached)

    def send(job: str, call: int, model_spec: dict, view_spec: dict) -> None:
        celery_app.send_task(TASK, args=[job, call, model_spec, view_spec])

    if workers > 1:
        store.spread = lambda model_spec, view_spec: RedisSpread(client, send, workers,
                                                                 (model_spec, view_spec))


__all__ = ["LEASE_SECONDS", "RETRIES", "TASK", "RedisHelper", "RedisSpread", "help_with_view",
           "register"]
