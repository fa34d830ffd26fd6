"""The text the domain language model is trained on. Pure, no I/O.

The narrow grammars (JSGF) built from the same words are in ``sphinx_grammars``.

pocketsphinx's generic model is tuned for dictation; on 8 kHz phone speech it gets about
eight words in ten wrong. A booking call uses a few hundred words in predictable shapes,
so a model trained on those shapes (filled from config.toml's services) does far better.

Times are written "ten a.m." (one dictionary word "a.m.": a lone "a" is also the article),
digits as words ("five five five"), everything lower case.
"""

from __future__ import annotations

import itertools
import random
import string
from collections.abc import Iterable, Sequence

from receptionist.config import WEEKDAYS, Service
from receptionist.engines.names import FIRST_NAMES, SURNAMES


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def phrases_of(text: str) -> tuple[str, ...]:
    return tuple(phrase.strip() for phrase in text.split(","))


DIGITS = _words("zero oh one two three four five six seven eight nine")
HOURS = _words("one two three four five six seven eight nine ten eleven twelve")
MINUTES = phrases_of("oh five, ten, fifteen, twenty, thirty, forty, forty five, fifty")
MONTHS = _words(
    "january february march april may june july august september october november december"
)
_ORDINAL_UNITS = _words("first second third fourth fifth sixth seventh eighth ninth")
ORDINALS = (
    *_ORDINAL_UNITS,
    *_words("tenth eleventh twelfth thirteenth fourteenth fifteenth sixteenth seventeenth"),
    *_words("eighteenth nineteenth twentieth"),
    *(f"twenty {unit}" for unit in _ORDINAL_UNITS),
    *phrases_of("thirtieth, thirty first"),
)
SYMPTOMS = phrases_of(
    "a cough, a fever, a rash, a sore throat, a headache, back pain, the flu, a cold,"
    " an infection, chest pain, an injury, a check up"
)
YES = phrases_of(
    "yes, yeah, yep, yes please, yes that's right, that's right, correct, that's correct,"
    " sure, okay, yes it is, of course, absolutely, please do, go ahead, perfect,"
    " that works, sounds good, great"
)
NO = phrases_of(
    "no, nope, no thanks, no thank you, no that's wrong, that's wrong, not really,"
    " no it isn't, that's not right, no that doesn't work, wrong"
)
PARTS_OF_DAY = phrases_of(
    "in the morning, in the afternoon, in the evening, this afternoon, tomorrow morning,"
    " after lunch, before noon"
)
RELATIVE_DAYS = phrases_of(
    "today, tomorrow, the day after tomorrow, next week, this week, later this week,"
    " early next week"
)
RELATIVES = _words("son daughter wife husband mother father child")
DIGIT_STRINGS = 60
"""Random phone-number-like strings in the corpus: enough for every digit bigram."""

SENTENCES_PER_WEIGHT = 40
"""Sentences per unit of template weight, so a fixed phrase ("cancel my appointment") counts
as much as a template with 200 ways to fill it ("{time}"), not 200 times less."""
_TEMPLATES = """
6 {yes}
6 {no}
2 hello
2 hi
1 hi there
2 thank you
2 thanks
2 goodbye
1 bye
2 no thank you goodbye
2 that's all thank you
1 that's everything thanks bye
4 i'd like to book an appointment
2 i want to book an appointment
2 i'd like to make an appointment
2 can i book an appointment please
2 i need an appointment
2 i'd like to book a {service}
2 i would like to book a {service}
1 i would like an appointment
1 i would like to come in {date}
1 i need a {service}
2 can i book a {service} for {date}
2 i'd like a {service} {date} at {time}
1 it's for a {service}
2 i need to see a doctor
1 i have {symptom}
1 i've got {symptom}
3 cancel my appointment
2 i want to cancel my appointment
1 i need to cancel my appointment on {date}
3 move my appointment
2 can i move my appointment to {date}
2 i'd like to reschedule my appointment
2 change my appointment
3 what are your opening hours
2 when are you open
2 are you open on {weekday}
1 what time do you close on {weekday}
3 can i speak to a person
2 can i talk to someone
1 i'd like to speak to a real person
1 can i leave a message
2 can someone call me back
1 please call me back
1 i want to speak to a human
1 this is ridiculous
2 sorry could you repeat that
1 pardon
1 what did you say
3 {date}
3 {date} at {time}
3 {time}
1 {date} please
2 on {date}
2 how about {date}
2 how about {time}
2 do you have anything {date}
1 do you have anything at {time}
2 is {time} available
2 anything {part}
2 {date} {part}
1 the earliest you have
1 anything later
1 anything earlier
3 my name is {first} {last}
2 it's {first} {last}
2 {first} {last}
1 this is {first}
1 my name is {first}
1 my last name is {last}
2 my number is {digits}
2 my phone number is {digits}
1 it's {digits}
3 {digits}
1 the first one
1 the second one
1 the {time} one
1 i'd like to book for my {relative}
1 it's for my {relative}
"""
"""One template per line, after its weight: how common the sentence is in a call."""


def domain_sentences(services: Sequence[Service], *, seed: int = 0) -> list[str]:
    """Every template filled enough times that each value of each slot appears."""
    slots = _slots(services, random.Random(seed))
    sentences: list[str] = []
    for line in _TEMPLATES.strip().splitlines():
        weight, template = line.split(" ", 1)
        sentences += _expand(template, slots, int(weight) * SENTENCES_PER_WEIGHT)
    return sentences


def vocabulary(sentences: Iterable[str]) -> set[str]:
    return {word for sentence in sentences for word in sentence.split()}


def _slots(services: Sequence[Service], rng: random.Random) -> dict[str, Sequence[str]]:
    return {
        "yes": YES,
        "no": NO,
        "service": _service_words(services),
        "weekday": WEEKDAYS,
        "date": _dates(),
        "time": _times(),
        "part": PARTS_OF_DAY,
        "symptom": SYMPTOMS,
        "first": FIRST_NAMES,
        "last": SURNAMES,
        "digits": [_digit_string(rng) for _ in range(DIGIT_STRINGS)],
        "relative": RELATIVES,
    }


def _expand(template: str, slots: dict[str, Sequence[str]], count: int) -> list[str]:
    """Fill a template ``count`` times (more if a slot has more values), cycling values."""
    names = [name for _, name, _, _ in string.Formatter().parse(template) if name]
    if not names:
        return [template] * count
    count = max(count, *(len(slots[name]) for name in names))
    cycles = {name: itertools.cycle(slots[name]) for name in set(names)}
    return [template.format(**{n: next(cycles[n]) for n in names}) for _ in range(count)]


def _service_words(services: Sequence[Service]) -> list[str]:
    words = {w for s in services for w in (s.name, *s.words)}
    return sorted(w.replace("-", " ") for w in words)


def _dates() -> list[str]:
    days = [f"{prefix}{day}" for day in WEEKDAYS for prefix in ("", "next ", "this ")]
    ordinals = [f"the {o}" for o in ORDINALS]
    months = [f"{m} {o}" for m, o in zip(MONTHS * 3, ORDINALS, strict=False)]
    months += [f"the {o} of {m}" for o, m in zip(reversed(ORDINALS), MONTHS * 3, strict=False)]
    weekday_dates = [f"{d} the {o}" for d, o in zip(WEEKDAYS * 5, ORDINALS, strict=False)]
    return days + ordinals + months + weekday_dates + list(RELATIVE_DAYS)


def _times() -> list[str]:
    times = ["noon", "midday", "lunchtime", "twelve noon"]
    for hour in HOURS:
        times += [f"{hour} o'clock", f"{hour} a.m.", f"{hour} p.m.", hour]
        times += [f"{prefix} {hour}" for prefix in ("half past", "quarter past", "quarter to")]
        times += [f"{hour} {m}" for m in MINUTES]
        times += [f"{hour} {m} {ap}" for m in MINUTES[2::2] for ap in ("a.m.", "p.m.")]
    return times


def _digit_string(rng: random.Random) -> str:
    length = rng.choice((3, 4, 7, 10))
    digits = [rng.choice(DIGITS[1:] if i == 0 else DIGITS) for i in range(length)]
    if length > 3 and rng.random() < 0.3:  # "double five": callers say it, the grammar has it
        digits[1:3] = ["double", digits[1]]
    return " ".join(digits)
