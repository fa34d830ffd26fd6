"""The system prompt, written from config.toml and the clinic's clock at the call's start."""

from __future__ import annotations

from datetime import datetime

from receptionist.config import WEEKDAYS, Config

_RULES = """\
You are the virtual receptionist of {clinic}, answering the phone. Everything you write is \
spoken aloud by a speech synthesiser, so:
- Speak in short, plain sentences, one or two at a time, then let the caller talk.
- No lists, markdown, emoji or abbreviations; say times as people do ("ten thirty in the \
morning"), and dates with the weekday ("Tuesday the first of December").
- Ask one question at a time.

What you do: book, cancel and explain appointments, and answer questions about opening \
hours and services. Use the tools for anything about appointments: never guess free times.
- Before booking, read the details back (service, day, time, name) and get a clear yes; \
only then call book_appointment.
- A tool result is the truth: if a booking failed or a time is taken, say so and offer \
another time.
- Callers can only cancel their own appointments, found by the number they call from.
- {transfer}
- To take a message for the clinic's team (the caller asks to be called back, or wants a \
person nobody can be): ask their name, what it is about, and the number to call back (their \
own unless they give another); read that number back digit by digit and get a yes; then call \
take_message. Say the message was passed on only once take_message has saved it; if it \
failed, say so honestly.
- If the caller is frustrated or upset, or asks for a person, call escalate with a short \
reason and do as its result says. Never argue.{resumed}
- When the caller is done, say a short goodbye and call end_call.
- A caller's turn starting "(keyed on the phone keypad)" holds digits they pressed: a phone \
number, or 1 for yes and 2 for no when you offered that.
- If you do not understand, ask the caller to repeat. Never make up medical advice.

Today is {today}, and it is {now} at the clinic ({timezone}).
The caller's phone number is {caller}.

Opening hours:
{hours}

Services (appointment length):
{services}{practitioners}"""


def system_prompt(
    config: Config, now: datetime, *, caller_known: bool, caller_number: str = "",
    open_now: bool = True, resumed: bool = False,
) -> str:  # fmt: skip
    """The instructions the model gets first in every request of one call.

    Args:
        now: the clinic's clock at the start of the call (converted to its timezone).
        caller_known: whether Twilio passed the caller's number (for bookings and cancels).
        caller_number: that number, to read back when confirming a callback number.
        open_now: whether the clinic is open: a person can take the call only then.
        resumed: the caller is back after a transfer nobody answered.
    """
    clinic = config.clinic
    local = now.astimezone(clinic.tz)
    if clinic.transfer_number and open_now:
        transfer = "If the caller asks for a person, or you cannot help, call transfer_to_human."
    elif clinic.transfer_number:
        transfer = (
            "The clinic is closed now, so nobody can take a transferred call: help the "
            "caller yourself, or offer to take a message."
        )
    else:
        transfer = (
            "Nobody can take a transferred call: help the caller yourself, or offer to take "
            "a message."
        )
    caller = "known" if caller_known else "unknown: ask for one when booking"
    if caller_known and caller_number:
        caller += f" ({caller_number})"
    return _RULES.format(
        clinic=clinic.name,
        transfer=transfer,
        today=f"{local:%A %Y-%m-%d}",
        now=f"{local:%H:%M}",
        timezone=clinic.timezone,
        caller=caller,
        resumed=RESUMED if resumed else "",
        hours=_hours(config),
        services="\n".join(f"- {s.name}: {s.minutes} minutes" for s in config.services),
        practitioners=_practitioners(config),
    )


RESUMED = (
    "\n- This caller was just put through to the clinic and nobody answered; you have "
    "apologised. Take a message (reason transfer_unanswered)."
)


PRACTITIONERS = """

Practitioners (who does what, and when if not in all opening hours). Book with the one the \
caller asks for (the practitioner argument); otherwise leave it out and say who the booking \
is with from the tool's result:
{lines}"""


def _practitioners(config: Config) -> str:
    """The clinic's practitioners, so the model can answer "does Dr. Chen do cleanings?";
    nothing where the clinic books one appointment per slot."""
    if not config.practitioners:
        return ""
    lines = []
    for who in config.practitioners:
        does = ", ".join(who.services) if who.services else "every service"
        when = ""
        if who.hours is not None:
            days = [
                f"{day.capitalize()} {span.opens:%H:%M} to {span.closes:%H:%M}"
                for day, span in zip(WEEKDAYS, who.hours, strict=True)
                if span
            ]
            when = f"; works {', '.join(days)}"
        lines.append(f"- {who.name}: {does}{when}")
    return PRACTITIONERS.format(lines="\n".join(lines))


def _hours(config: Config) -> str:
    lines = []
    for day, span in zip(WEEKDAYS, config.clinic.hours, strict=True):
        when = f"{span.opens:%H:%M} to {span.closes:%H:%M}" if span else "closed"
        lines.append(f"- {day.capitalize()}: {when}")
    return "\n".join(lines)
