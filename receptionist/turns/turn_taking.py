"""Turn-taking: when the caller cuts in, when their turn is over, and what they heard. I/O-free.

The Dialogue actor tells ``TurnTaking`` about its agent turns (``agent_began``,
``agent_sent``), feeds it every caller event with ``handle(event, now)``, carries out the
actions returned (``turn_events``), and calls ``handle(Tick(), now)`` when ``deadline``
passes first.

Barge-in timing: the caller cuts in on the local VAD alone. SpeechStarted already needs
``[vad].min_speech_ms`` of unbroken voiced frames (silero rejects most coughs and clicks), so
the ``clear`` goes out about 130 ms after the first voiced frame. Waiting for the recogniser
to confirm words would be more robust but cannot meet 200 ms: Deepgram's first interim comes
300 ms or more in, the offline recogniser has none. So the words *correct* the decision
afterwards: if the speech that cut the agent off turns out to be only a backchannel
("mm-hm", "okay") or noise (no words within ``false_barge_in_ms`` of its end), the cut turn
is resumed (``Resume``; Twilio cannot pause, only clear, so what was cut is said again). A
backchannel or an empty transcript that arrives while the agent speaks, with no barge-in
fired (the VAD found it too short), is ignored outright.

The agent has the floor from the start of a turn (written or playing) until its last mark
comes back: speech cuts a turn still being written too, so the agent never starts talking
over a caller who has taken the floor again (before any audio, the ``clear`` is harmless).

End of turn: the recogniser finalises at every pause, so one caller turn can arrive as
several final transcripts; they are joined. How long a turn is waited on after a final is
``end_of_turn.EndOfTurnWait``'s (none when it sounds complete, ``unfinished_wait_ms`` when
not); speech or an interim transcript in that time holds it until the next final.

The floor is the caller's whenever they speak: mid-utterance too (``SpeechResumed``, after as
much voiced audio as a start takes), and on any interim with new words. A final that comes
while the caller is speaking again does not end their turn. If the caller goes on before any
of the agent's answer has reached them (``agent_audible``), the answer is held
(``reply_hold``): released if what they said brings no words, dropped if it does (the cut
carries ``continued``, the answered words, and what follows is joined to them; the wait
after a complete-sounding final grows, ``EndOfTurnWait.lengthen``).

Preemptive generation: ``anticipation.Anticipation``.

What was heard: ``heard.TurnPlayback``, from Twilio's mark echoes.
"""

from __future__ import annotations

import math
from dataclasses import replace

from receptionist.config import TurnTakingConfig
from receptionist.messages import (
    MarkPlayed,
    Sentence,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    SpeechStopped,
    Transcript,
)
from receptionist.turns.anticipation import Anticipation
from receptionist.turns.end_of_turn import EndOfTurnWait
from receptionist.turns.heard import TurnPlayback
from receptionist.turns.lexicon import is_backchannel
from receptionist.turns.reply_hold import ReplyHold
from receptionist.turns.turn_events import (
    Action,
    CallerTurn,
    CutOff,
    Resume,
    Tick,
    TurnEvent,
    TurnPlayed,
)

NO_DEADLINE = math.inf


# --- The state machine ------------------------------------------------------------------


class TurnTaking:
    """Who has the floor in one call. Not shared between calls."""

    def __init__(self, config: TurnTakingConfig) -> None:
        self._waits = EndOfTurnWait(config)
        self._false_barge_in = config.false_barge_in_ms / 1000
        self._guesses = Anticipation(config.preemptive_generation)
        self._agent: TurnPlayback | None = None
        """The agent turn holding the floor, until its last mark is back or it is cut."""
        self._interruptible = False
        self._suspect: CutOff | None = None
        """A barge-in whose speech has not yet proved to be words."""
        self._suspect_deadline = NO_DEADLINE
        self._finals: list[Transcript] = []
        """The caller's turn so far, while it sounds unfinished."""
        self._turn_deadline = NO_DEADLINE
        self._interim = ""
        """The latest interim transcript of the utterance being recognised."""
        self._caller_speaking = False
        self._answered: list[Transcript] = []
        """The finals of the caller turn the agent is answering, until the caller hears any
        of the answer: if they go on speaking first, their turn goes on (``CutOff.continued``)."""
        self._held: list[Transcript] = []
        """The finals of a turn whose unheard answer was cut by more speech: joined with what
        follows."""
        self._hold = ReplyHold()

    @property
    def deadline(self) -> float:
        """When to send ``Tick`` if nothing else arrives (``math.inf``: never)."""
        return min(self._suspect_deadline, self._turn_deadline, self._hold.deadline)

    @property
    def caller_speaking(self) -> bool:
        return self._caller_speaking

    @property
    def agent_has_floor(self) -> bool:
        return self._agent is not None

    # --- The agent's side, told by the Dialogue ------------------------------------------

    def agent_began(self, turn_id: int, *, interruptible: bool) -> None:
        self._agent, self._interruptible = TurnPlayback(turn_id), interruptible
        self._suspect, self._suspect_deadline = None, NO_DEADLINE

    def agent_sent(self, sentence: Sentence) -> None:
        if self._agent is not None and self._agent.turn_id == sentence.turn_id:
            self._agent.sent(sentence)

    def agent_audible(self, through: int) -> None:
        """Every agent turn up to ``through`` has begun to play: once the caller hears the
        answer begin, their turn is over, whatever they say next."""
        if self._agent is not None and self._agent.turn_id <= through:
            self._answered = []

    def agent_not_interruptible(self) -> None:
        """The turn playing is the call's last words: they are not cut short."""
        self._interruptible = False

    def agent_done(self) -> None:
        """The turn ended with nothing to say: the floor is the caller's."""
        self._agent = None
        self._hold.dropped()

    def cut(self) -> CutOff | None:
        """Cut the agent's turn now, if it may be (the caller's words need a new answer)."""
        if self._agent is None or not self._interruptible:
            return None
        cut, self._agent = self._agent.cut(), None
        self._hold.dropped()
        answered, self._answered = self._answered, []
        if cut.heard or not answered:
            return cut
        # The caller went on before hearing a word of the answer: their turn was not over.
        self._held = answered
        self._waits.lengthen()
        return replace(cut, continued=" ".join(f.text.strip() for f in answered))

    @property
    def complete_wait(self) -> float:
        """The wait after a complete-sounding final, in seconds (lengthened per call)."""
        return self._waits.complete

    # --- Events ------------------------------------------------------------------------

    def handle(self, event: TurnEvent, now: float) -> list[Action]:
        match event:
            case SpeechStarted():
                return self._speech_started()
            case SpeechPaused():
                self._caller_speaking = False
                return self._anticipate()
            case SpeechResumed():
                return self._speech_started()  # mid-utterance, the floor is theirs all the same
            case SpeechStopped():
                return self._speech_stopped(now)
            case Transcript(is_final=False, text=text):
                return self._interim_heard(text)
            case Transcript():
                return self._final(event, now)
            case MarkPlayed():
                return self._mark(event)
            case Tick():
                return self._tick(now)
        return []

    def _speech_started(self) -> list[Action]:
        self._caller_speaking = True
        self._turn_deadline = NO_DEADLINE  # the caller is still going: hold their turn
        self._suspect_deadline = NO_DEADLINE
        actions = self._withdraw()
        if self._answer_unheard():
            # They went on before any of the answer reached them: it waits, unheard, until
            # their words show whether it still answers them.
            return [*actions, *self._hold.hold(self._agent.turn_id)]  # type: ignore[union-attr]
        cut = self.cut()
        if cut is None:
            return actions
        self._suspect = cut
        return [*actions, cut]

    def _answer_unheard(self) -> bool:
        """The agent is answering the caller's last turn, and none of it has reached them."""
        return self._agent is not None and self._interruptible and bool(self._answered)

    def _speech_stopped(self, now: float) -> list[Action]:
        self._caller_speaking = False
        self._hold.speech_stopped(now + self._false_barge_in)
        if self._suspect is not None:
            self._suspect_deadline = now + self._false_barge_in
        if self._finals and self._turn_deadline == NO_DEADLINE:
            self._turn_deadline = now + self._waits.unfinished  # for the final of these words
        return self._anticipate()

    def _interim_heard(self, text: str) -> list[Action]:
        if not text.strip() or is_backchannel(text):
            return []
        self._interim = text.strip()
        self._turn_deadline = NO_DEADLINE  # more words are coming: wait for their final
        self._suspect, self._suspect_deadline = None, NO_DEADLINE  # a real barge-in
        cut = self.cut()  # words the VAD did not report as a start: the floor is theirs
        actions: list[Action] = [cut] if cut is not None else []
        # Words recognised after the pause belong in the guess: guess (again).
        return actions if self._caller_speaking else [*actions, *self._anticipate()]

    def _anticipate(self) -> list[Action]:
        if self._agent is not None:
            return []
        if not self._finals and not self._interim:
            return self._withdraw()  # nothing new since the turn was answered
        finals = [*self._held, *self._finals]  # a continued turn is guessed whole
        return [
            *self._guesses.offer(
                " ".join([*(f.text.strip() for f in finals), self._interim]).strip()
            )
        ]

    def _withdraw(self) -> list[Action]:
        return [*self._guesses.withdraw()]

    def _final(self, transcript: Transcript, now: float) -> list[Action]:
        text = transcript.text.strip()
        self._interim = ""
        filler = not text or is_backchannel(text)
        if self._hold.holding and filler and not self._finals:
            return [*self._withdraw(), *self._hold.release()]  # a cough, "mm": no new words
        if self._suspect is not None and filler and not self._finals:
            return [*self._withdraw(), self._resume(self._suspect, text)]
        self._suspect, self._suspect_deadline = None, NO_DEADLINE
        if not text and self._finals and not self._caller_speaking:
            return self._no_more_words(transcript, now)
        if filler and (self._agent is not None or not text):
            return self._withdraw()  # "mm-hm" while the agent speaks; a noise with no words
        cut = self.cut()  # words the VAD missed: they still take the floor
        actions: list[Action] = [cut] if cut is not None else []
        held, self._held = self._held, []
        self._finals = [*held, *self._finals, transcript]
        wait = self._waits.after(self._joined())
        if self._caller_speaking:
            # They went on before this final came: the turn ends at their stop.
            self._turn_deadline = NO_DEADLINE
            return [*self._withdraw(), *actions]
        if wait > 0:
            # A pause worth waiting out: the model may go on with these words meanwhile.
            self._turn_deadline = now + wait
            return [*actions, *self._anticipate()]
        return [*actions, self._end_turn()]

    def _no_more_words(self, empty: Transcript, now: float) -> list[Action]:
        """The recogniser says the caller's latest speech brought no words (a final for
        their turn came while they were still sounding, a breath, the tail of a word): the
        turn ends as its last final would have, not after waiting for words that will not
        come. Its speech ended at the latest stop."""
        if empty.speech_ended_at is not None:
            self._finals[-1] = replace(self._finals[-1], speech_ended_at=empty.speech_ended_at)
        wait = self._waits.after(self._joined())
        if wait > 0:
            self._turn_deadline = min(self._turn_deadline, now + wait)
            return []
        return [self._end_turn()]

    def _joined(self) -> str:
        return " ".join(f.text.strip() for f in self._finals)

    def _resume(self, suspect: CutOff, said: str) -> Resume:
        """The speech that cut the agent brought no words: the cut turn goes on."""
        self._suspect, self._suspect_deadline = None, NO_DEADLINE
        return Resume(suspect, said)

    def _mark(self, mark: MarkPlayed) -> list[Action]:
        if self._agent is None:
            return []
        last = self._agent.handle(mark)
        if self._agent.played:
            self._answered = []  # the caller has heard the answer: their turn is over
        if not last:
            return []
        turn_id, self._agent = self._agent.turn_id, None
        return [TurnPlayed(turn_id)]

    def _tick(self, now: float) -> list[Action]:
        actions: list[Action] = []
        if now >= self._hold.deadline:
            actions.extend(self._hold.release())  # no words came of it
        if self._suspect is not None and now >= self._suspect_deadline:
            actions.append(self._resume(self._suspect, ""))
        if now >= self._turn_deadline:
            if self._finals:
                actions.append(self._end_turn())
            self._turn_deadline = NO_DEADLINE
        return actions

    def _end_turn(self) -> CallerTurn:
        """The turn is over; a guess standing is left to the brain to keep or drop."""
        finals, self._finals = self._finals, []
        self._turn_deadline = NO_DEADLINE
        self._guesses.turn_ended()
        self._answered = finals
        return CallerTurn(" ".join(f.text.strip() for f in finals), finals[-1])
