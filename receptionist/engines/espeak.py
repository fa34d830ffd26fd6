"""Offline text-to-speech: espeak-ng through ctypes, from the espeakng-loader wheel.

espeak-ng keeps global state (one voice, one rate, one output callback per process), so
it is initialised once per process, lazily, and speaks one text at a time behind
``_SYNTH_LOCK``. Two calls on one server therefore take turns sentence by sentence; at
hundreds of times faster than real time that costs each a few milliseconds.

Synthesis is synchronous C code: ``stream_ulaw`` runs it on a worker thread and hands each
chunk back to trio through a bounded memory channel as espeak produces it, converted to
8 kHz mu-law on the way (band-limited resampling, see ``resampler.py``).
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING

import espeakng_loader
import structlog
import trio

from receptionist.engines.audio import pcm16_to_ulaw
from receptionist.engines.resampler import Resampler
from receptionist.errors import SpeechSynthesisError
from receptionist.messages import SAMPLE_RATE

if TYPE_CHECKING:
    import outcome  # trio's own dependency; only its types are needed here

CHUNK_MS = 100
"""Audio espeak hands to its callback at a time (its buffer length). Small enough that the
first chunk is out in well under a millisecond of synthesis, large enough that the
thread-to-trio hop per chunk is negligible."""
CHUNKS_AHEAD = 300
"""Chunks the worker thread may run ahead of its consumer: 30 s of audio, 240 KB at most.
The consumer drains at playback speed, and a thread kept waiting would hold espeak, and
with it every other call's synthesis, until the caller had heard the sentence. 30 s holds
any sentence whole, so espeak is free ~10 ms after a sentence starts; a longer text only
makes its thread wait, still bounded."""
LOCK_POLL_S = 0.02
"""How often a thread waiting for espeak checks whether its consumer has gone away."""

# espeak-ng's speak_lib.h constants.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000  # without it a missing data file makes espeak call exit()
_PARAMETER_RATE = 1
_POSITION_CHARACTER = 1
_CHARS_UTF8 = 1
_ENDPAUSE = 0x1000  # a short pause after the text, so sentences do not run together
_EE_OK = 0

_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)
STOP_TIMEOUT_S = 2.0
"""How long closing a stream waits for its thread to let go of espeak. A chunk takes a few
milliseconds; an espeak stuck inside one call must not hold the closing turn forever (the
thread is left to finish, holding espeak, and the next synthesis waits for it)."""
log = structlog.get_logger()

_SYNTH_LOCK = threading.Lock()
_INIT_LOCK = threading.Lock()
_library: _Library | None = None


class _Abandoned(Exception):
    """The consumer of a synthesis went away; raised on the worker thread to stop it."""


class _Library:
    """The process's one espeak-ng instance. Use only while holding ``_SYNTH_LOCK``."""

    def __init__(self) -> None:
        try:
            self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        except OSError as exc:
            raise SpeechSynthesisError(f"cannot load libespeak-ng: {exc}") from exc
        self._declare_signatures()
        data_path = espeakng_loader.get_data_path().encode()
        rate = self._lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, CHUNK_MS, data_path, _INITIALIZE_DONT_EXIT
        )
        if rate <= 0:
            raise SpeechSynthesisError(f"espeak_Initialize failed ({rate})")
        self.sample_rate: int = rate
        self._on_chunk: Callable[[bytes], None] = _ignore
        self._chunk_error: BaseException | None = None
        self._callback = _SynthCallback(self._receive)  # referenced here so it is not freed
        self._lib.espeak_SetSynthCallback(self._callback)
        self._voice: tuple[str, int] | None = None

    def _declare_signatures(self) -> None:
        lib, c = self._lib, ctypes
        lib.espeak_Initialize.argtypes = [c.c_int, c.c_int, c.c_char_p, c.c_int]
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [c.c_char_p]
        lib.espeak_SetParameter.argtypes = [c.c_int, c.c_int, c.c_int]
        lib.espeak_Synth.argtypes = [
            c.c_char_p, c.c_size_t, c.c_uint, c.c_int, c.c_uint, c.c_uint, c.c_void_p,
            c.c_void_p,
        ]  # fmt: skip

    def speak(self, text: str, voice: str, wpm: int, on_chunk: Callable[[bytes], None]) -> None:
        """Synthesize ``text``, passing each chunk of PCM to ``on_chunk`` as it is made.

        An exception raised by ``on_chunk`` stops the synthesis and is re-raised here.
        """
        self._select_voice(voice, wpm)
        encoded = text.encode("utf-8")
        self._on_chunk, self._chunk_error = on_chunk, None
        try:
            status = self._lib.espeak_Synth(
                encoded, len(encoded) + 1, 0, _POSITION_CHARACTER, 0,
                _CHARS_UTF8 | _ENDPAUSE, None, None,
            )  # fmt: skip
        finally:
            self._on_chunk = _ignore
        if self._chunk_error is not None:
            raise self._chunk_error
        if status != _EE_OK:
            raise SpeechSynthesisError(f"espeak_Synth failed ({status}) for {text!r}")

    def _select_voice(self, voice: str, wpm: int) -> None:
        if self._voice == (voice, wpm):
            return  # loading a voice reads its files: skip it when nothing changed
        self._voice = None
        if self._lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
            raise SpeechSynthesisError(f"espeak has no voice {voice!r}")
        if self._lib.espeak_SetParameter(_PARAMETER_RATE, wpm, 0) != _EE_OK:
            raise SpeechSynthesisError(f"espeak rejected rate {wpm} words per minute")
        self._voice = (voice, wpm)

    def _receive(self, wav: ctypes._Pointer[ctypes.c_short], samples: int, _events: int) -> int:
        """espeak's callback: returns 1 to make espeak stop, 0 to go on."""
        if not wav or samples <= 0:
            return 0  # the end-of-text call carries no audio
        try:
            self._on_chunk(ctypes.string_at(wav, samples * 2))
        except BaseException as exc:  # an exception cannot cross the C frames: speak re-raises
            self._chunk_error = exc
            return 1
        return 0


def _ignore(_pcm: bytes) -> None:
    pass


def _get_library() -> _Library:
    global _library
    with _INIT_LOCK:
        if _library is None:
            _library = _Library()
        return _library


@contextmanager
def _exclusive_espeak(abandoned: threading.Event | None = None) -> Iterator[_Library]:
    """Hold espeak for one synthesis; give up waiting once ``abandoned`` is set."""
    library = _get_library()  # before the lock: initialising needs no synthesis slot
    while not _SYNTH_LOCK.acquire(timeout=LOCK_POLL_S):
        if abandoned is not None and abandoned.is_set():
            raise _Abandoned
    try:
        yield library
    finally:
        _SYNTH_LOCK.release()


class EspeakEngine:
    """espeak-ng speaking with one voice at one rate.

    Args:
        voice: an espeak voice name, optionally with a variant: "en-us", "en-us+f3".
        words_per_minute: speaking rate (espeak accepts 80 to 450).
    """

    def __init__(self, voice: str, words_per_minute: int) -> None:
        self.voice = voice
        self.words_per_minute = words_per_minute

    @property
    def native_rate(self) -> int:
        """Sample rate of ``synthesize_pcm``'s output (22050 Hz for espeak-ng).

        Raises:
            SpeechSynthesisError: libespeak-ng could not be loaded or initialised.
        """
        return _get_library().sample_rate

    def synthesize_pcm(self, text: str) -> bytes:
        """Speak ``text`` at once, blocking: 16-bit mono PCM at ``native_rate``.

        Raises:
            SpeechSynthesisError: espeak could not be loaded or could not speak it.
        """
        chunks: list[bytes] = []
        with _exclusive_espeak() as library:
            library.speak(text, self.voice, self.words_per_minute, chunks.append)
        return b"".join(chunks)

    async def stream_ulaw(self, text: str) -> AsyncGenerator[bytes, None]:
        """Speak ``text``: yield 8 kHz mu-law chunks as espeak makes them.

        Close the generator when stopping early (``contextlib.aclosing``): closing stops
        the worker thread and waits for it, shielded (for at most ``STOP_TIMEOUT_S``), so
        the thread and espeak are free by the time ``aclose()`` returns, even in a
        cancelled scope.

        Raises:
            SpeechSynthesisError: espeak could not be loaded or could not speak it.
        """
        # A generator, not ``stream_ulaw(text, send_channel)``, so the Synthesizer needs
        # no nursery per sentence. Trio forbids yielding inside a nursery or cancel scope
        # (the consumer's code would run inside it between iterations), so there is none
        # here: the thread is started with start_thread_soon, which needs no nursery, and
        # its end is awaited in ``finally`` under a shield opened after the last yield.
        send, receive = trio.open_memory_channel[bytes](CHUNKS_AHEAD)
        job = _StreamJob(self, text, send)
        job.start()
        try:
            async for chunk in receive:
                yield chunk
            await job.finished.wait()
            job.result().unwrap()
        finally:
            job.stop(receive)
            with trio.move_on_after(STOP_TIMEOUT_S, shield=True):
                await job.finished.wait()
            if not job.finished.is_set():
                log.error("tts.espeak_stuck", timeout_s=STOP_TIMEOUT_S, text=text[:40])


class _StreamJob:
    """One ``stream_ulaw`` synthesis on a worker thread, feeding a trio channel."""

    def __init__(self, engine: EspeakEngine, text: str, send: trio.MemorySendChannel[bytes]):
        self._engine, self._text, self._send = engine, text, send
        self._token = trio.lowlevel.current_trio_token()
        self._abandoned = threading.Event()
        self._outcome: outcome.Outcome[None] | None = None
        self.finished = trio.Event()
        """Set, in trio, once the thread has let go of espeak and returned."""

    def start(self) -> None:
        trio.lowlevel.start_thread_soon(self._run, self._report)

    def stop(self, receive: trio.MemoryReceiveChannel[bytes]) -> None:
        """Make the thread stop at its next chunk (no-op once it has finished)."""
        self._abandoned.set()
        receive.close()  # a thread blocked sending gets BrokenResourceError at once

    def result(self) -> outcome.Outcome[None]:
        assert self._outcome is not None, "only valid once finished is set"
        return self._outcome

    def _run(self) -> None:  # on the worker thread
        with _exclusive_espeak(self._abandoned) as library:
            resampler = Resampler(library.sample_rate, SAMPLE_RATE)
            engine = self._engine

            def forward(pcm: bytes) -> None:
                if self._abandoned.is_set():
                    raise _Abandoned
                self._deliver(pcm16_to_ulaw(resampler.process(pcm)))

            library.speak(self._text, engine.voice, engine.words_per_minute, forward)
        self._deliver(pcm16_to_ulaw(resampler.flush()))

    def _deliver(self, ulaw: bytes) -> None:  # on the worker thread
        if ulaw:
            trio.from_thread.run(self._send.send, ulaw, trio_token=self._token)

    def _report(self, result: outcome.Outcome[None]) -> None:  # on the worker thread
        with suppress(trio.RunFinishedError):  # trio has exited: nobody is left waiting
            self._token.run_sync_soon(self._finish, result)

    def _finish(self, result: outcome.Outcome[None]) -> None:  # back in trio
        self._outcome = result
        self._send.close()
        self.finished.set()
