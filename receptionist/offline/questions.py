"""What the receptionist asks, and how it asks again when the caller was not understood.

The fixed questions live here, so the wording of the whole conversation can be read (and
tuned) in one place. Questions that name times or appointments are built by the flows.
"""

from __future__ import annotations

from dataclasses import dataclass

from receptionist.messages import Expectation


@dataclass(frozen=True, slots=True)
class Question:
    """A question, and how to put it again when the caller was not understood."""

    text: str
    expect: Expectation = Expectation.OPEN
    rephrased: str = ""
    """Said after one failure: the same question in other words."""
    choices: str = ""
    """Said after two failures: what the caller can answer."""


INTENT_QUESTION = Question(
    "How can I help?",
    rephrased="What can I do for you today?",
    choices="I can book, move or cancel an appointment, or tell you our opening hours. "
    "Which would you like?",
)
# OPEN, not YES_NO: callers answer "anything else?" with a new request as often as with a no.
ANYTHING_ELSE_QUESTION = Question(
    "Is there anything else I can help with?",
    rephrased="Can I help with anything else today?",
    choices="I can book, move or cancel an appointment, or tell you our opening hours. "
    "Or say no to end the call.",
)
OFFER_HUMAN_QUESTION = Question(
    "Would you like me to put you through to a member of our team?",
    Expectation.YES_NO,
    rephrased="Shall I put you through to someone? Please say yes or no.",
)

REASON_QUESTION = Question(
    "What's the appointment for?",
    rephrased="What would you like to come in for?",
)
DAY_QUESTION = Question(
    "Which day would suit you?",
    Expectation.DAY,
    rephrased="What day would you like to come in? For example, tomorrow or next Tuesday.",
    choices="You can say a day of the week, like Monday, or a date, like the 3rd of December.",
)
ANOTHER_DAY_QUESTION = Question(
    "Which other day would suit you?",
    Expectation.DAY,
    rephrased=DAY_QUESTION.rephrased,
    choices=DAY_QUESTION.choices,
)
NAME_QUESTION = Question(
    "What name should I put the appointment under?",
    Expectation.NAME,
    rephrased="Could you tell me your first and last name, please?",
    choices="Please say your name, for example: my name is Jane Smith.",
)
KEYPAD_QUESTION = Question(
    "Please key in the best number to reach you on your keypad, followed by the hash key.",
    Expectation.DIGITS,
    rephrased="Please type your phone number on the keypad, then press the hash key.",
    choices="Type the number on your phone's keypad and press hash, "
    "or say the digits one at a time.",
)
LOOKUP_KEYPAD_QUESTION = Question(
    "To find your appointment, please key in the phone number you booked with, "
    "followed by the hash key.",
    Expectation.DIGITS,
    rephrased="Please type the phone number you booked with, then press the hash key.",
    choices="Type the number on your phone's keypad and press hash, "
    "or say the digits one at a time.",
)
CHANGE_QUESTION = Question(
    "What would you like to change: the day and time, the name, or the phone number?",
    rephrased="Should I change the day and time, the name, or the phone number?",
    choices="Say day, name or number. Or say nothing if you'd rather not book.",
)
MOVE_DAY_QUESTION = Question(
    "What day would you like to move it to?",
    Expectation.DAY,
    rephrased=DAY_QUESTION.rephrased,
    choices=DAY_QUESTION.choices,
)
