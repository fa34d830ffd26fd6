"""The Dialogue actor's side of ``DialoguePort``: what its brain says goes out from here.

``AgentFloor`` holds one call's floor for the Dialogue (``stages/dialogue.py``): the agent's
turns, sentence by sentence, to the Synthesizer; ``clear`` to Twilio when a turn is cut; what
the caller is expected to say next, to the Listener; Scheduler requests; the silence clock
that starts once the agent has finished speaking; and the call's end, sent once its last
words have played. The floor's decisions are the I/O-free ``TurnTaking``'s.
"""

from __future__ import annotations

import math
from dataclasses import replace

import structlog
import trio

from receptionist.config import Config
from receptionist.messages import (
    ClearAudio,
    EndCall,
    Expectation,
    ListenFor,
    Sentence,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    SpeechStopped,
    Transcript,
)
from receptionist.scheduling.messages import SchedulerRequest
from receptionist.turns.agent_turn import AgentTurn
from receptionist.turns.brain import Brain
from receptionist.turns.cancellation import TurnCancellation
from receptionist.turns.sentences import split_sentences
from receptionist.turns.turn_events import CutOff, TurnEvent
from receptionist.turns.turn_taking import TurnTaking

log = structlog.get_logger()

NO_DEADLINE = math.inf


class AgentFloor:
    """One call's floor, kept by the Dialogue; offered to its brain as ``DialoguePort``."""

    brain: Brain
    """Told of each cut-off; set once built (the brain is given this floor)."""

    def __init__(
        self,
        sentences: trio.MemorySendChannel[Sentence],
        to_twilio: trio.MemorySendChannel[ClearAudio | EndCall],
        hints: trio.MemorySendChannel[ListenFor],
        scheduler: trio.MemorySendChannel[SchedulerRequest],
        *,
        config: Config,
        turns: TurnCancellation,
    ) -> None:
        self._sentences, self._to_twilio = sentences, to_twilio
        self._hints, self._scheduler = hints, scheduler
        self._reprompt_after = config.dialogue.reprompt_after_s
        self.turns = turns
        self.taking = TurnTaking(config.turn_taking)
        self._last_turn_id = 0
        self._playing: AgentTurn | None = None
        self.heard: Transcript | None = None
        """The caller's last words, until a turn answers them (for the turn's timings)."""
        self._ending: EndCall | None = None
        """Set once the conversation is over; sent when its last turn has played and the
        caller has stayed silent for the grace period."""
        self._hung_up = False
        turn_taking = config.turn_taking
        self._grace = turn_taking.hang_up_grace_ms / 1000
        self._mark_timeout = turn_taking.goodbye_mark_timeout_ms / 1000
        self.ending_deadline = NO_DEADLINE
        """When to close the line (or stop waiting for the goodbye's mark): ``ending_due``."""
        self._caller_quiet = True
        """The Listener has heard the caller quiet for the settle time since their last words
        or speech (``CallerSettled``)."""
        self._holding = False
        """A turn is held back from the caller (``hold``) until released or dropped."""
        self._settling_changed = trio.Event()
        """Set (and renewed) whenever either of the two above changes: ``settled`` looks again."""
        self.silence_deadline = NO_DEADLINE
        """When the caller will have been silent too long (``math.inf``: not counting)."""
        self.ending_deadline = NO_DEADLINE
        """When the call ends even if the last turn's mark never came back."""

    # --- Told by the Dialogue's loop ------------------------------------------------------

    def track_silence(self, message: TurnEvent) -> None:
        match message:
            case SpeechStarted() | SpeechResumed():
                self._caller_spoke()
                self._caller_talking()
            case Transcript(is_final=False):
                self._caller_talking()
            case SpeechStopped() | SpeechPaused():
                self.wait_for_caller()
                if self._ending is not None and self._playing is None:
                    self._start_grace(caller_speaking=False)
            case Transcript(text=text):
                if text.strip():
                    self._caller_spoke()
                self.wait_for_caller()

    def _caller_talking(self) -> None:
        self.silence_deadline = NO_DEADLINE
        if self._ending is not None and self._playing is None:
            self.ending_deadline = NO_DEADLINE  # never hang up on a speaking caller

    def _caller_spoke(self) -> None:
        self._caller_quiet = False  # the settle time counts from after this
        self._settling_changed_now()

    def caller_turn_ended(self, last: Transcript, text: str) -> None:
        """The caller's turn is over (``text``, its finals joined): the next turn answers it."""
        self.heard = replace(last, text=text)

    def caller_settled(self) -> None:
        """The Listener heard the caller quiet for the settle time (``CallerSettled``)."""
        self._caller_quiet = True
        self._settling_changed_now()

    async def settled(self) -> None:
        """Return once the caller's last turn has stayed over for the settle time, as the
        Listener counts it in their audio (``turns.settling``).

        Speech in that time holds the turn waiting here (``hold``) until it is released (and
        the caller has been quiet for the settle time since) or cut (its scope is cancelled,
        and this never returns), so a tool that waits for this never runs from a fragment of
        what the caller meant, however late the server hears their audio."""
        while self._holding or not self._caller_quiet:
            await self._settling_changed.wait()

    def _settling_changed_now(self) -> None:
        self._settling_changed.set()
        self._settling_changed = trio.Event()

    def hold(self, turn_id: int) -> None:
        """The caller went on before hearing turn ``turn_id``: none of it reaches them (its
        writing and synthesis go on) until ``release`` or a cut."""
        self.turns.hold(turn_id)
        self._holding = True
        self._settling_changed_now()
        log.info("dialogue.hold", turn_id=turn_id)

    def release(self, turn_id: int) -> None:
        """What the caller went on with brought no words: the held turn plays now; its
        side-effecting tools wait for the caller's quiet as before."""
        self._end_hold()
        self.turns.release(turn_id)
        log.info("dialogue.release", turn_id=turn_id)

    def _end_hold(self) -> None:
        if self._holding:
            self._holding = False
            self._settling_changed_now()

    def is_farewell_time(self) -> bool:
        """The goodbye has been said: words now either close the call or reopen it."""
        return self._ending is not None and not self._hung_up

    def reopen(self) -> None:
        """The caller spoke before the line closed: no hang-up, the conversation goes on."""
        log.info("dialogue.hang_up_cancelled")
        self._ending, self.ending_deadline = None, NO_DEADLINE
        self.wait_for_caller()

    async def ending_due(self) -> None:
        """``ending_deadline`` passed: the goodbye's mark never came (start the grace period
        anyway), or the caller has been silent since the goodbye (close the line)."""
        self.ending_deadline = NO_DEADLINE
        if self._ending is None or self._hung_up:
            return
        if self._playing is not None:
            log.warning("dialogue.goodbye_mark_missing")
            self._playing = None
            self._start_grace()
            return
        self._hung_up = True
        log.info("dialogue.hang_up", reason=self._ending.reason.value)
        await self._to_twilio.send(self._ending)

    def _start_grace(self, *, caller_speaking: bool | None = None) -> None:
        """Close the line after the grace period, unless the caller is speaking."""
        if caller_speaking is None:
            caller_speaking = self.taking.caller_speaking
        if not caller_speaking and not self._hung_up:
            self.ending_deadline = trio.current_time() + self._grace

    def wait_for_caller(self) -> None:
        """Start the silence clock, unless the agent is still talking or the call is over."""
        if self._playing is None and self._ending is None:
            self.silence_deadline = trio.current_time() + self._reprompt_after

    async def cut_off(self, cut: CutOff) -> None:
        """Barge-in: stop turn ``cut.turn_id`` everywhere and clear what Twilio holds."""
        self._playing = None
        self._end_hold()  # the held turn is dropped with its scope
        self.turns.cancel_through(cut.turn_id)
        await self._to_twilio.send(ClearAudio(cut.turn_id, at=trio.current_time()))
        self.brain.cut_off(cut)
        log.info("dialogue.barge_in", turn_id=cut.turn_id, heard=" ".join(cut.heard),
                 unheard=" ".join(cut.unheard), continued=cut.continued is not None)  # fmt: skip

    async def turn_played(self) -> None:
        """The caller has heard the whole turn: theirs to answer, or the call ends."""
        self._turn_over()
        if self._ending is not None:
            self._start_grace()

    def _turn_over(self) -> None:
        self._playing = None
        self.wait_for_caller()

    # --- DialoguePort: what the brains use ------------------------------------------------

    @property
    def ending(self) -> bool:
        return self._ending is not None

    async def interrupt(self) -> None:
        """Stop the turn being written or played, everywhere, and clear Twilio."""
        cut = self.taking.cut()
        if cut is not None:
            await self.cut_off(cut)

    def begin_turn(self, expect: Expectation, *, interruptible: bool = True) -> int:
        """Start an agent turn; its sentences follow with ``say``."""
        self._last_turn_id += 1
        self._playing = AgentTurn(self._last_turn_id, self.heard)
        self.taking.agent_began(self._last_turn_id, interruptible=interruptible)
        self.heard, self.silence_deadline = None, NO_DEADLINE
        self._send_hint(expect)
        return self._last_turn_id

    async def say(
        self, turn_id: int, text: str, last: bool, first_output: float | None = None
    ) -> None:
        """Send one sentence of turn ``turn_id`` ("" with ``last`` closes it); ``first_output``
        is when the brain's first output (the LLM's first token) appeared, if not now."""
        turn = self._playing
        if turn is None or turn.turn_id != turn_id:
            return  # cut off by barge-in
        sentence = turn.next_sentence(text, last, first_output, now=trio.current_time())
        if sentence is not None:
            self.taking.agent_sent(sentence)
            await self._sentences.send(sentence)
        elif last:
            self.taking.agent_done()
            self._end_hold()
            self.turns.release(turn_id)
            self._turn_over()  # nothing to say after all

    async def speak(
        self, text: str, expect: Expectation = Expectation.OPEN, *, end_of_call: bool = False
    ) -> int | None:
        """Say a whole turn at once: its id, or None if ``text`` has nothing to say."""
        texts = split_sentences(text)
        if not texts:
            return None
        # The goodbye is not cut short: the call ends when it has played.
        turn_id = self.begin_turn(expect, interruptible=not end_of_call)
        heard = self._playing.heard if self._playing else None
        log.info(
            "dialogue.said",
            turn_id=turn_id,
            text=text,
            caller_text=heard.text if heard else "",
            expect=expect.value,
        )
        with self.turns.scope(turn_id):
            for index, sentence in enumerate(texts):
                await self.say(turn_id, sentence, last=index == len(texts) - 1)
        return turn_id

    async def end_after_turn(self, end: EndCall) -> None:
        """End the call once the caller has heard the turn being played (now if none is)."""
        self._ending, self.silence_deadline = end, NO_DEADLINE
        if self._playing is None:
            self._start_grace()
        else:
            self.taking.agent_not_interruptible()  # the last words are not cut short
            self.ending_deadline = trio.current_time() + self._mark_timeout

    async def ask_scheduler(self, request: SchedulerRequest) -> None:
        await self._scheduler.send(request)

    def _send_hint(self, expect: Expectation) -> None:
        try:
            self._hints.send_nowait(ListenFor(expect))
        except trio.WouldBlock:
            log.warning("dialogue.hint_dropped", expect=expect.value)
