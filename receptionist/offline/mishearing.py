"""When the receptionist may have misheard: check before acting, offer the keypad, and take
a message rather than hang up.

A wrong booking is worse than none, and a hang-up on a patient worse than a message. So an
answer heard with low confidence to a narrow question (yes or no, a day, a time, digits) is
confirmed when it seems to say something ("did you say Tuesday the 8th?") and re-asked when
not; after a second failed answer the keypad is offered where the answer is a yes or no, a
day of the month or one of the times offered; and a caller who still cannot be understood
is escalated (``staff``): put through when someone is there, or else leaves a message.
"""

from __future__ import annotations

from receptionist.messages import Expectation
from receptionist.offline import phrasing, spoken
from receptionist.offline.state import Action, CallState, Step

NARROW = frozenset({Expectation.YES_NO, Expectation.DAY, Expectation.TIME, Expectation.DIGITS})
"""Questions whose answers the recogniser's confidence is meaningful for: for open
sentences it is small even when right (see ``engines.sphinx.Recognition``)."""
YES_NO_KEYS = {"1": "yes", "2": "no"}
MAX_DAY_OF_MONTH = 31
KEYPAD_STEPS = frozenset({Step.PHONE_KEYPAD, Step.PHONE_OK})
"""Where keys are a phone number (``name_and_number.on_key``), not an answer."""


def unsure(call: CallState, confidence: float | None) -> bool:
    """Whether an answer was heard too faintly to act on as it is."""
    threshold = call.config.dialogue.min_confidence
    return confidence is not None and confidence < threshold and call.question.expect in NARROW


def check_heard(call: CallState, text: str) -> list[Action] | None:
    """Ask whether an unsure answer was heard right; None when it says nothing to check."""
    day = spoken.spoken_date(text, call.now)
    if day is not None:
        return call.confirm(text, f"Just to check, did you say {phrasing.day(day)}?")
    answer = spoken.yes_or_no(text)
    if answer is not None and call.question.expect is Expectation.YES_NO:
        return call.confirm(text, f"Sorry, was that a {'yes' if answer else 'no'}?")
    return None


def keypad_hint(call: CallState) -> str:
    """After a second failed answer: how to answer on the keypad instead, where one can."""
    if call.step in KEYPAD_STEPS:
        return ""
    if call.step is Step.TIME and call.draft.offered:
        keys = [f"{n} for {phrasing.clock(t)}" for n, t in enumerate(call.draft.offered, 1)]
        return f"You can also press {phrasing.either(keys)}."
    if call.question.expect is Expectation.YES_NO:
        return "You can also press 1 for yes, or 2 for no."
    if call.question.expect is Expectation.DAY:
        return "You can also key in the day of the month, then the hash key."
    return ""


def keyed_answer(call: CallState, digit: str) -> str | None:
    """The words a key (or keys, until "#") stand for at this question, once complete."""
    if call.step is Step.TIME and digit.isdigit():
        index = int(digit)
        return f"the {spoken.ordinal(index)} one" if 0 < index <= len(call.draft.offered) else None
    if call.question.expect is Expectation.YES_NO:
        return YES_NO_KEYS.get(digit)
    if call.question.expect is Expectation.DAY:
        if digit != "#":
            call.keyed = "" if digit == "*" else call.keyed + digit
            return None
        keyed, call.keyed = call.keyed, ""
        if keyed.isdigit() and 0 < int(keyed) <= MAX_DAY_OF_MONTH:
            return f"the {spoken.ordinal(int(keyed))}"
    return None
