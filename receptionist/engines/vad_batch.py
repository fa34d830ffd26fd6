"""One Silero inference for all calls' pending windows: the process's VAD batcher.

Each call's ``SileroStream`` hands its complete window (one per 32 ms) to the batcher and
awaits it. The batcher is one task; each call's recurrent state is one row of the batch.
Why batch: one run costs about the same for one window as for four, and in a busy server,
whose Python work between runs evicts the model from the CPU's caches, a lone window cost
220 us against 39 us each in a batch of 16 (cold caches, ``SileroModel.infer``).

``collect_s`` (``vad.batch_collect_ms``) lets a batch's first window wait up to that long
for other calls' windows, and no longer than it takes every call heard lately to hand its
window in: a lone call never waits, and under load each window waits a few ms at most.
With 0 a batch runs once every task already runnable has had its turn (what came in
meanwhile goes with it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from time import perf_counter_ns

import numpy as np
import trio

from receptionist.engines.vad_silero import SileroModel, SileroStream, window_rows

MAX_BATCH = 64
"""Windows per run, and the requests queued: past about 64 a bigger batch saves nothing
per window; a full queue makes a call's Listener wait its turn (backpressure)."""
ACTIVE_S = 0.1
"""A stream whose last window ran this recently is a call whose next window is coming
(one per 32 ms): a collecting batch waits for it, within ``collect_s``."""


@dataclass(slots=True)
class _Request:
    stream: SileroStream
    window: bytes
    done: trio.Event = field(default_factory=trio.Event)


class SileroBatcher:
    """``run`` is the batching task (``open_services`` starts it); ``infer`` is what each
    call's stream awaits.

    Error handling:
        An inference error ends ``run`` (the process's error, not a call's): the calls
        waiting on it are cancelled with the server.
    """

    def __init__(
        self, model: SileroModel, max_batch: int = MAX_BATCH, collect_s: float = 0.0
    ) -> None:
        """``collect_s``: how long the first window of a batch waits for others (0: none)."""
        self._model = model
        self._collect_s = collect_s
        self._max = max_batch
        self._send, self._receive = trio.open_memory_channel[_Request](max_batch)
        self._queued = 0
        """Requests in the channel: sent, not yet taken into a batch."""
        self._last_ran: dict[SileroStream, float] = {}
        """Each stream heard lately, and when its last window ran."""
        self._expected = 0
        """How many windows the collecting batch waits for (its streams heard lately)."""
        self._all_in: trio.Event | None = None
        """Set once the collecting batch's expected windows are all queued."""
        self.batches = 0
        self.windows = 0
        """Counted for the bench (``bench.vad --calls``): windows / batches is the mean batch."""

    async def infer(self, stream: SileroStream, window: bytes) -> None:
        """Sets ``stream.last`` and ``stream.state`` once the window's batch has run."""
        request = _Request(stream, window)
        self._queued += 1
        try:
            self._send.send_nowait(request)  # one wait per window, not two, in the common case
        except trio.WouldBlock:
            try:
                await self._send.send(request)
            except BaseException:
                self._queued -= 1
                raise
        if self._all_in is not None and self._queued >= self._expected:
            self._all_in.set()
        await request.done.wait()

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        with self._receive:
            task_status.started()
            async for first in self._receive:
                self._queued -= 1
                if self._collect_s:
                    await self._collect(first)
                self._run_batch(self._gather(first))

    async def _collect(self, first: _Request) -> None:
        """Wait up to ``collect_s`` for the windows of the other streams heard lately."""
        now = trio.current_time()
        for stream, ran in list(self._last_ran.items()):
            if now - ran > ACTIVE_S:
                del self._last_ran[stream]  # the call has ended (or its audio stopped)
        others = len(self._last_ran) - (first.stream in self._last_ran)
        self._expected = min(others, self._max - 1)
        if self._queued >= self._expected:
            return
        self._all_in = trio.Event()
        try:
            with trio.move_on_after(self._collect_s):
                await self._all_in.wait()
        finally:
            self._all_in = None

    def _gather(self, first: _Request) -> list[_Request]:
        batch = [first]
        while len(batch) < self._max:
            try:
                batch.append(self._receive.receive_nowait())
            except trio.WouldBlock:
                break
            self._queued -= 1
        return batch

    def _run_batch(self, batch: list[_Request]) -> None:
        began = perf_counter_ns()
        windows = window_rows(b"".join([request.window for request in batch]), len(batch))
        states = np.concatenate([request.stream.state for request in batch], axis=1)
        probabilities, new_states = self._model.infer(windows, states)
        share = (perf_counter_ns() - began) // len(batch)
        self.batches += 1
        self.windows += len(batch)
        now = trio.current_time() if self._collect_s else 0.0
        for row, request in enumerate(batch):
            stream = request.stream
            if self._collect_s:
                self._last_ran[stream] = now
            stream.last = float(probabilities[row])
            stream.state = new_states[:, row : row + 1, :]
            stream.costs.vad_ns += share
            request.done.set()
