"""Where the offline recogniser runs: a thread of this process, or a pool of worker processes.

pocketsphinx holds Python's GIL while it decodes: about 110 ms for a 4-second sentence, in
one piece. In a thread, that stalls the event loop, and with it every call's outbound audio
and barge-in (``make bench`` found outbound frames late at 8 concurrent calls, at a quarter
of a core). So the server decodes in worker processes (``trio_parallel``): each builds its
decoder once, from the model's files (``DecoderSpec``), and decodes for any call, since an
utterance is decoded whole and leaves no state behind. ``ThreadDecoding`` remains for
tools and tests that run one call at a time.
"""

from __future__ import annotations

import math
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
import trio
import trio_parallel

from receptionist.engines.sphinx import DecoderSpec, Recognition, SphinxRecognizer
from receptionist.messages import Expectation

log = structlog.get_logger()

WORKER_EXIT_GRACE_S = 10.0
"""At shutdown, after the calls (and so their decodes) are over, the workers' time to exit.
Idle workers exit at once on a quiet machine; a loaded one (or a worker still starting,
importing for a second or more) can take seconds, and one killed makes the pool's close
fail."""


class ThreadDecoding:
    """One call's own decoder, in a thread of this process."""

    def __init__(self, recognizer: SphinxRecognizer) -> None:
        self._recognizer = recognizer

    async def recognize(self, pcm16: bytes, expectation: Expectation) -> Recognition:
        return await trio.to_thread.run_sync(self._recognizer.recognize, pcm16, expectation)


class WorkerDecoding:
    """Decoding in the process pool ``workers``, with decoders built from ``spec``."""

    def __init__(self, workers: trio_parallel.WorkerContext, spec: DecoderSpec) -> None:
        self._workers, self._spec = workers, spec

    async def recognize(self, pcm16: bytes, expectation: Expectation) -> Recognition:
        """Raises SpeechRecognitionError (from the worker) and BrokenWorkerError (the worker
        died). A cancelled call waits for its decode to end (a fraction of a second)."""
        return await self._workers.run_sync(_recognize, self._spec, pcm16, expectation)


def decoder_worker_count() -> int:
    """trio_parallel runs as many jobs at once as the machine has cores."""
    return os.cpu_count() or 1


@asynccontextmanager
async def open_decoder_workers() -> AsyncIterator[trio_parallel.WorkerContext]:
    """A pool of worker processes (up to one per core), closed on exit."""
    # Workers live as long as the server: a new one pays about a second of imports.
    body_failed = True
    try:
        async with trio_parallel.open_worker_context(
            idle_timeout=math.inf, grace_period=WORKER_EXIT_GRACE_S
        ) as workers:
            yield workers
            body_failed = False
    except trio_parallel.BrokenWorkerError as exc:
        if body_failed:
            raise
        # Every decode has ended: a worker that exited badly or too slowly (and was killed)
        # lost nothing, and must not turn a clean drain into a failed exit.
        log.warning("decoder.workers_exit_unclean", error=str(exc))


_decoders: dict[DecoderSpec, SphinxRecognizer] = {}
"""In a worker process: its decoder per model (one, in practice)."""


def _decoder(spec: DecoderSpec) -> SphinxRecognizer:
    if spec not in _decoders:
        _decoders[spec] = SphinxRecognizer(spec)
    return _decoders[spec]


def _recognize(spec: DecoderSpec, pcm16: bytes, expectation: Expectation) -> Recognition:
    return _decoder(spec).recognize(pcm16, expectation)
