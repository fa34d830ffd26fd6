"""What staff hear before they join a warm transfer, from the call's own facts. I/O-free.

``CallFacts`` watches the Dialogue's inbox (the supervisor's tap): the caller's number from
the stream's start, each booking made, moved or cancelled (and so the caller's name), and the
caller's words. When the call ends in a transfer, ``brief`` sums them up as a
``TransferBrief``, kept with the call's outcome for whichever process dials the staff, and
``briefing_text`` says it: "Maria Garcia, calling from (555) 123-4567. Already done: a
cleaning booked for Tuesday 3 December at 10:00. The caller said: a question about my
insurance."
"""

from __future__ import annotations

import phonenumbers

from receptionist.messages import CallStarted, Transcript, TransferBrief
from receptionist.scheduling.messages import BookingCancelled, BookingConfirmed, BookingMoved

MIN_REASON_WORDS = 3
"""Shorter finals ("yes", "a person please") say too little to brief anyone with."""
MAX_REASON_CHARS = 200
"""A briefing is heard standing at a phone: a sentence, not the transcript."""
CHANGES = {
    BookingConfirmed: "a {service} booked for {when}",
    BookingMoved: "a {service} moved to {when}",
    BookingCancelled: "a {service} on {when} cancelled",
}


class CallFacts:
    """One call's facts for a transfer briefing; ``observe`` sees each Dialogue event."""

    def __init__(self, caller: str = "") -> None:
        self._caller = caller
        self._name = ""
        self._done: list[str] = []
        self._words = ""

    def observe(self, message: object) -> None:
        match message:
            case CallStarted(caller=str() as caller) if caller:
                self._caller = caller
            case BookingConfirmed() | BookingMoved() | BookingCancelled():
                appointment = message.appointment
                self._name = appointment.name or self._name
                when = f"{appointment.start:%A %-d %B at %H:%M}"
                if appointment.practitioner:
                    when += f" with {appointment.practitioner}"
                change = CHANGES[type(message)]
                self._done.append(change.format(service=appointment.service, when=when))
            case Transcript(is_final=True, text=text) if len(text.split()) >= MIN_REASON_WORDS:
                self._words = text.strip()

    def brief(self, why: str = "") -> TransferBrief:
        """The briefing; ``why`` is the brain's reason, else the caller's last words count."""
        return TransferBrief(
            caller=self._caller,
            name=self._name,
            done=tuple(self._done),
            why=(why or self._words)[:MAX_REASON_CHARS],
        )


def briefing_text(brief: TransferBrief, clinic_name: str) -> str:
    """The words staff hear (a TwiML <Say>) before they are put through."""
    who = brief.name or "A caller"
    number = _spoken_number(brief.caller)
    parts = [f"A call transferred by the {clinic_name} receptionist."]
    parts.append(f"{who}, calling from {number}." if number else f"{who}, number withheld.")
    if brief.done:
        parts.append(f"Already done: {', and '.join(brief.done)}.")
    if brief.why:
        parts.append(f"They said: {brief.why.rstrip('.?!')}.")
    parts.append("Connecting you now.")
    return " ".join(parts)


def _spoken_number(e164: str) -> str:
    """(555) 123-4567 rather than +15551234567, which a text-to-speech voice reads as an
    amount."""
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
