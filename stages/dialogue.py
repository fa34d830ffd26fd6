"""Dialogue: the actor that holds the conversation of one call.

It translates call events into events of the I/O-free ``Receptionist`` and its actions into
messages: each ``Speak`` becomes one agent turn of sentences for the Synthesizer. Around the
conversation it owns turn-taking: barge-in (the caller speaks over a turn), reprompts (the
caller stays silent after a turn) and ending the call once the last words have played.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import structlog
import trio

from receptionist.config import Config
from receptionist.conversation import (
    Action,
    AskScheduler,
    CallBegan,
    CallerKeyed,
    CallerSaid,
    CallerSilent,
    Event,
    Hangup,
    Receptionist,
    SchedulerAnswered,
    Speak,
    TransferCall,
)
from receptionist.messages import (
    BookingCancelled,
    BookingConfirmed,
    BookingMoved,
    BookingRejected,
    BookingsFound,
    CallStarted,
    CallStopped,
    ClearAudio,
    DtmfPressed,
    EndCall,
    EndReason,
    Expectation,
    FreeSlots,
    ListenFor,
    MarkPlayed,
    SchedulerRequest,
    Sentence,
    SpeechStarted,
    SpeechStopped,
    Transcript,
    TurnTimings,
)
from receptionist.turns import TurnCancellation

log = structlog.get_logger()

DialogueEvent = (
    CallStarted
    | MarkPlayed
    | DtmfPressed
    | CallStopped
    | SpeechStarted
    | SpeechStopped
    | Transcript
    | FreeSlots
    | BookingConfirmed
    | BookingsFound
    | BookingCancelled
    | BookingMoved
    | BookingRejected
)
"""Everything the Dialogue receives: TwilioIO, Listener and Scheduler messages, fanned in."""

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
NO_DEADLINE = math.inf


async def run_dialogue(
    events: trio.MemoryReceiveChannel[DialogueEvent],
    sentences: trio.MemorySendChannel[Sentence],
    to_twilio: trio.MemorySendChannel[ClearAudio | EndCall],
    hints: trio.MemorySendChannel[ListenFor],
    scheduler: trio.MemorySendChannel[SchedulerRequest],
    *,
    config: Config,
    turns: TurnCancellation,
    now: Callable[[], datetime],
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Hold the conversation until the call stops.

    Args:
        events: call events, transcripts and Scheduler replies, fanned in.
        sentences: each agent turn's sentences, to the Synthesizer.
        to_twilio: ClearAudio on barge-in; EndCall once the goodbye (or the "putting you
            through" line) has played.
        hints: what the caller is expected to say next, to the Listener.
        scheduler: requests to the Scheduler; replies come back on ``events``.
        now: the clinic's wall clock (aware datetime), for "tomorrow" and "next tuesday".

    Resource handling:
        Closes every channel end it was given on exit. The work of sending a turn runs under
        that turn's scope in ``turns``. Hints are advisory: when the Listener is not keeping
        up, a hint is dropped rather than stalling the conversation.

    Error handling:
        Returns on CallStopped or when ``events`` closes. Everything else propagates to the
        call's error boundary.
    """
    with events, sentences, to_twilio, hints, scheduler:
        dialogue = _Dialogue(
            Receptionist(config), sentences, to_twilio, hints, scheduler,
            config=config, turns=turns, now=now,
        )
        task_status.started()
        await dialogue.serve(events)


@dataclass(frozen=True, slots=True)
class _Turn:
    """The agent turn being played to the caller."""

    turn_id: int
    last_mark: str
    """Echoed by Twilio once the turn's last sentence has played."""
    interruptible: bool


class _Dialogue:
    def __init__(
        self,
        receptionist: Receptionist,
        sentences: trio.MemorySendChannel[Sentence],
        to_twilio: trio.MemorySendChannel[ClearAudio | EndCall],
        hints: trio.MemorySendChannel[ListenFor],
        scheduler: trio.MemorySendChannel[SchedulerRequest],
        *,
        config: Config,
        turns: TurnCancellation,
        now: Callable[[], datetime],
    ) -> None:
        self._receptionist = receptionist
        self._sentences, self._to_twilio = sentences, to_twilio
        self._hints, self._scheduler = hints, scheduler
        self._reprompt_after = config.dialogue.reprompt_after_s
        self._turns, self._now = turns, now
        self._last_turn_id = 0
        self._playing: _Turn | None = None
        self._heard: Transcript | None = None
        """The caller's last words, until a turn answers them (for the turn's timings)."""
        self._ending: EndCall | None = None
        """Set once the conversation is over; sent when its last turn has played."""
        self._silence_deadline = NO_DEADLINE

    async def serve(self, events: trio.MemoryReceiveChannel[DialogueEvent]) -> None:
        try:
            while True:
                message = await self._receive(events)
                if message is None:
                    await self._handle(CallerSilent(self._now()))
                elif isinstance(message, CallStopped):
                    return
                else:
                    await self._on_message(message)
        except trio.EndOfChannel:
            return

    async def _receive(
        self, events: trio.MemoryReceiveChannel[DialogueEvent]
    ) -> DialogueEvent | None:
        """The next message, or None once the caller has been silent too long."""
        with trio.move_on_at(self._silence_deadline):
            return await events.receive()
        self._silence_deadline = NO_DEADLINE
        return None

    async def _on_message(self, message: DialogueEvent) -> None:
        match message:
            case CallStarted(caller=caller):
                await self._handle(CallBegan(caller, self._now()))
            case Transcript(is_final=True):
                await self._on_transcript(message)
            case Transcript():  # an interim transcript: the caller is still talking
                self._silence_deadline = NO_DEADLINE
            case SpeechStarted():
                self._silence_deadline = NO_DEADLINE
                await self._barge_in()
            case SpeechStopped():
                self._wait_for_caller()
            case MarkPlayed(name=name):
                await self._on_mark(name)
            case DtmfPressed(digit=digit):
                await self._handle(CallerKeyed(digit, self._now()))
                self._wait_for_caller()
            case (
                FreeSlots()
                | BookingConfirmed()
                | BookingsFound()
                | BookingCancelled()
                | BookingMoved()
                | BookingRejected()
            ):
                await self._handle(SchedulerAnswered(message))

    async def _on_transcript(self, transcript: Transcript) -> None:
        self._silence_deadline = NO_DEADLINE
        if not transcript.text.strip():
            self._wait_for_caller()
            return
        log.info("dialogue.heard", text=transcript.text, confidence=transcript.confidence)
        self._heard = transcript
        await self._handle(CallerSaid(transcript.text, self._now()))

    async def _on_mark(self, name: str) -> None:
        if self._playing is None or name != self._playing.last_mark:
            return  # a mark of an earlier sentence, or of a turn cut off by barge-in
        self._playing = None
        if self._ending is not None:
            await self._to_twilio.send(self._ending)
            return
        self._wait_for_caller()

    def _wait_for_caller(self) -> None:
        """Start the silence clock, unless the agent is still talking or the call is over."""
        if self._playing is None and self._ending is None:
            self._silence_deadline = trio.current_time() + self._reprompt_after

    async def _barge_in(self) -> None:
        """The caller spoke over the agent: stop the turn everywhere and clear Twilio's audio."""
        turn = self._playing
        if turn is None or not turn.interruptible:
            return
        self._playing = None
        self._turns.cancel_through(turn.turn_id)
        await self._to_twilio.send(ClearAudio(turn.turn_id, at=trio.current_time()))
        log.info("dialogue.barge_in", turn_id=turn.turn_id)

    async def _handle(self, event: Event) -> None:
        for action in self._receptionist.handle(event):
            await self._act(action)

    async def _act(self, action: Action) -> None:
        match action:
            case Speak():
                await self._speak(action)
            case AskScheduler(request=request):
                await self._scheduler.send(request)
            case Hangup():
                await self._end_after_turn(EndCall(EndReason.COMPLETED))
            case TransferCall(number=number):
                await self._end_after_turn(EndCall(EndReason.TRANSFER, transfer_to=number))

    async def _end_after_turn(self, end: EndCall) -> None:
        """End the call once the caller has heard the turn being played (now if none is)."""
        self._ending, self._silence_deadline = end, NO_DEADLINE
        if self._playing is None:
            await self._to_twilio.send(end)

    async def _speak(self, speak: Speak) -> None:
        texts = split_sentences(speak.text)
        if not texts:
            return
        self._last_turn_id += 1
        turn_id = self._last_turn_id
        heard, self._heard = self._heard, None
        self._send_hint(speak.expect)
        # The goodbye is not cut short: the call ends when it has played.
        self._playing = _Turn(turn_id, f"turn{turn_id}-s{len(texts) - 1}", not speak.end_of_call)
        self._silence_deadline = NO_DEADLINE
        timings = _timings(heard, produced_at=trio.current_time())
        caller_text = heard.text if heard else ""
        log.info(
            "dialogue.said",
            turn_id=turn_id,
            text=speak.text,
            caller_text=caller_text,
            expect=speak.expect.value,
        )
        with self._turns.scope(turn_id):
            for index, text in enumerate(texts):
                last = index == len(texts) - 1
                await self._sentences.send(
                    Sentence(turn_id, index, text, last, timings, caller_text)
                )

    def _send_hint(self, expect: Expectation) -> None:
        try:
            self._hints.send_nowait(ListenFor(expect))
        except trio.WouldBlock:
            log.warning("dialogue.hint_dropped", expect=expect.value)


def _timings(heard: Transcript | None, *, produced_at: float) -> TurnTimings:
    """The offline receptionist answers at once: its first output is its first sentence."""
    return TurnTimings(
        speech_ended=heard.speech_ended_at if heard else None,
        transcript_final=heard.at if heard else None,
        first_output=produced_at,
        first_sentence=produced_at,
    )


def split_sentences(text: str) -> list[str]:
    """Sentences for the Synthesizer, so the first is spoken while the rest are made."""
    return [sentence for sentence in _SENTENCE_END.split(text.strip()) if sentence]
