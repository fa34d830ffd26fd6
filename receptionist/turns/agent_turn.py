"""The agent turn being written or played: its sentences numbered and timed. I/O-free."""

from __future__ import annotations

from dataclasses import dataclass

from receptionist.messages import Sentence, Transcript, TurnTimings


@dataclass(slots=True)
class AgentTurn:
    """The agent turn being written or played to the caller."""

    turn_id: int
    heard: Transcript | None
    """What the caller said that this turn answers, for its timings and log."""
    sent: int = 0
    timings: TurnTimings | None = None

    def next_sentence(
        self, text: str, last: bool, first_output: float | None, *, now: float
    ) -> Sentence | None:
        """The turn's next Sentence; None when there is nothing to send.

        A streamed turn learns it is over only after its last sentence may have gone:
        then ``last`` comes with "" and closes the turn with an empty sentence.
        """
        if not text and not (last and self.sent):
            return None
        if self.timings is None:
            heard = self.heard
            self.timings = TurnTimings(
                speech_ended=heard.speech_ended_at if heard else None,
                transcript_final=heard.at if heard else None,
                first_output=now if first_output is None else first_output,
                first_sentence=now,
            )
        caller_text = self.heard.text if self.heard else ""
        self.sent += 1
        return Sentence(self.turn_id, self.sent - 1, text, last, self.timings, caller_text)
