"""One Silero inference for all calls' pending windows: the process's VAD batcher.

Each call's ``SileroStream`` hands its complete window (one per 32 ms) to the batcher and
awaits it. The batcher is one task: woken by the first window, it runs after every task
already runnable in that pass of the scheduler has had its turn, so all the windows that
came in meanwhile go in one ``InferenceSession.run``, each call's recurrent state one row.
By default no timer: at low load a batch is a window or two (no added latency); under load
batches grow on their own, and the cost per window falls by up to two thirds (figures in
``SileroModel.infer``), so CPU per call falls as calls are added. ``collect_s``
(``vad.batch_collect_ms``) makes the batch wait that long after its first window for more:
bigger batches at a few ms of VAD latency (the trade measured in the config's comment).
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
        self.batches = 0
        self.windows = 0
        """Counted for the bench (``bench.vad --calls``): windows / batches is the mean batch."""

    async def infer(self, stream: SileroStream, window: bytes) -> None:
        """Sets ``stream.last`` and ``stream.state`` once the window's batch has run."""
        request = _Request(stream, window)
        try:
            self._send.send_nowait(request)  # one wait per window, not two, in the common case
        except trio.WouldBlock:
            await self._send.send(request)
        await request.done.wait()

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        with self._receive:
            task_status.started()
            async for first in self._receive:
                if self._collect_s:
                    await trio.sleep(self._collect_s)
                self._run_batch(self._gather(first))

    def _gather(self, first: _Request) -> list[_Request]:
        batch = [first]
        while len(batch) < self._max:
            try:
                batch.append(self._receive.receive_nowait())
            except trio.WouldBlock:
                break
        return batch

    def _run_batch(self, batch: list[_Request]) -> None:
        began = perf_counter_ns()
        windows = window_rows(b"".join([request.window for request in batch]), len(batch))
        states = np.concatenate([request.stream.state for request in batch], axis=1)
        probabilities, new_states = self._model.infer(windows, states)
        share = (perf_counter_ns() - began) // len(batch)
        self.batches += 1
        self.windows += len(batch)
        for row, request in enumerate(batch):
            stream = request.stream
            stream.last = float(probabilities[row])
            stream.state = new_states[:, row : row + 1, :]
            stream.costs.vad_ns += share
            request.done.set()
