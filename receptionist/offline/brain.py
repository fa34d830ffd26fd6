"""The offline brain of the Dialogue actor: the I/O-free ``Receptionist``, its actions carried
out through the Dialogue's ``DialoguePort``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import structlog

from receptionist.logs import mask_phone
from receptionist.messages import CallStarted, EndCall, EndReason, Expectation
from receptionist.offline import conversation as offline
from receptionist.scheduling.messages import SchedulerReply
from receptionist.turns.brain import DialoguePort
from receptionist.turns.turn_events import CutOff

log = structlog.get_logger()


class OfflineBrain:
    """Call events in, the ``Receptionist``'s actions out."""

    def __init__(
        self, port: DialoguePort, receptionist: offline.Receptionist, now: Callable[[], datetime]
    ) -> None:
        self._port, self._receptionist, self._now = port, receptionist, now
        self._expect = Expectation.OPEN
        """What the last turn asked for: a resumed turn asks for it again."""

    async def call_began(self, started: CallStarted) -> None:
        resume = started.parameters.get("resume", "")
        began = offline.CallBegan(started.caller, self._now(), started.call_sid, resume)
        await self._handle(began)

    async def caller_said(self, text: str, confidence: float | None = None) -> None:
        await self._handle(offline.CallerSaid(text, self._now(), confidence))

    async def caller_keyed(self, digit: str) -> None:
        await self._handle(offline.CallerKeyed(digit, self._now()))

    async def caller_silent(self) -> None:
        await self._handle(offline.CallerSilent(self._now()))

    async def scheduler_answered(self, reply: SchedulerReply) -> None:
        await self._handle(offline.SchedulerAnswered(reply))

    def cut_off(self, cut: CutOff) -> None:
        pass  # the state machine keeps no transcript; the question stands until answered

    async def resume(self, cut: CutOff, said: str) -> None:
        """A false barge-in: say again what the caller did not hear."""
        if cut.unheard:
            await self._port.speak(" ".join(cut.unheard), self._expect)

    def anticipate(self, text: str) -> None:
        pass  # answers take no time to write: nothing to start early

    def withdraw(self) -> None:
        pass

    def close(self) -> None:
        pass

    async def _handle(self, event: offline.Event) -> None:
        for action in self._receptionist.handle(event):
            match action:
                case offline.Speak(text=text, expect=expect, end_of_call=end_of_call):
                    self._expect = expect
                    await self._port.speak(text, expect, end_of_call=end_of_call)
                case offline.AskScheduler(request=request):
                    await self._port.ask_scheduler(request)
                case offline.Hangup():
                    await self._port.end_after_turn(EndCall(EndReason.COMPLETED))
                case offline.TakeMessage(name=name, phone=phone, about=about):
                    # Written already (clinic_messages and its outbox row): this is the log's.
                    log.info("call.message_taken", name=name, phone=mask_phone(phone), about=about)
                case offline.Escalated(reason=reason):
                    log.info("call.escalated", reason=reason)
                case offline.TransferCall(number=number):
                    end = EndCall(EndReason.TRANSFER, transfer_to=number)
                    await self._port.end_after_turn(end)
