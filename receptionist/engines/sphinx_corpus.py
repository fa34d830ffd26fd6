"""The text the domain language model is trained on, and the narrow grammars. Pure, no I/O.

pocketsphinx's generic model is tuned for dictation; on 8 kHz phone speech it gets about
eight words in ten wrong. A booking call uses a few hundred words in predictable shapes,
so a model trained on those shapes (filled from config.toml's services) does far better.

Times are written "ten a.m." (one dictionary word "a.m."), digits as words ("five five
five"), everything lower case.
"""

from __future__ import annotations

import itertools
import random
import string
from collections.abc import Iterable, Sequence

from receptionist.config import WEEKDAYS, Service
from receptionist.engines.names import FIRST_NAMES, SURNAMES

DIGITS = ("zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
HOURS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve")
MINUTES = ("oh five", "ten", "fifteen", "twenty", "thirty", "forty", "forty five", "fifty")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december")
_ORDINAL_UNITS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh",
                  "eighth", "ninth")
ORDINALS = (
    *_ORDINAL_UNITS, "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth",
    "sixteenth", "seventeenth", "eighteenth", "nineteenth", "twentieth",
    *(f"twenty {u}" for u in _ORDINAL_UNITS), "thirtieth", "thirty first",
)
SYMPTOMS = ("a cough", "a fever", "a rash", "a sore throat", "a headache", "back pain",
            "the flu", "a cold", "an infection", "chest pain", "an injury", "a check up")
YES = ("yes", "yeah", "yep", "yes please", "yes that's right", "that's right", "correct",
       "that's correct", "sure", "okay", "yes it is", "of course", "absolutely", "please do",
       "go ahead", "perfect", "that works", "sounds good", "great")
NO = ("no", "nope", "no thanks", "no thank you", "no that's wrong", "that's wrong",
      "not really", "no it isn't", "that's not right", "no that doesn't work", "wrong")

SENTENCES_PER_WEIGHT = 40
"""Sentences per unit of template weight, so a fixed phrase ("cancel my appointment") counts
as much as a template with 200 ways to fill it ("{time}"), not 200 times less."""
_TEMPLATES: tuple[tuple[str, int], ...] = (
    # (template, weight): weight repeats the template's expansion, for common sentences.
    ("{yes}", 6), ("{no}", 6), ("hello", 2), ("hi", 2), ("hi there", 1), ("thank you", 2),
    ("thanks", 2), ("goodbye", 2), ("bye", 1), ("no thank you goodbye", 2),
    ("that's all thank you", 2), ("that's everything thanks bye", 1),
    ("i'd like to book an appointment", 4), ("i want to book an appointment", 2),
    ("i'd like to make an appointment", 2), ("can i book an appointment please", 2),
    ("i need an appointment", 2), ("i'd like to book a {service}", 2),
    ("i need a {service}", 1), ("can i book a {service} for {date}", 2),
    ("i'd like a {service} {date} at {time}", 2), ("it's for a {service}", 1),
    ("i need to see a doctor", 2), ("i have {symptom}", 1), ("i've got {symptom}", 1),
    ("cancel my appointment", 3), ("i want to cancel my appointment", 2),
    ("i need to cancel my appointment on {date}", 1), ("move my appointment", 3),
    ("can i move my appointment to {date}", 2), ("i'd like to reschedule my appointment", 2),
    ("change my appointment", 2), ("what are your opening hours", 3),
    ("when are you open", 2), ("are you open on {weekday}", 2),
    ("what time do you close on {weekday}", 1), ("can i speak to a person", 3),
    ("can i talk to someone", 2), ("i'd like to speak to a real person", 1),
    ("can i leave a message", 1), ("sorry could you repeat that", 2), ("pardon", 1),
    ("what did you say", 1), ("{date}", 3), ("{date} at {time}", 3), ("{time}", 3),
    ("{date} please", 1), ("on {date}", 2), ("how about {date}", 2), ("how about {time}", 2),
    ("do you have anything {date}", 2), ("do you have anything at {time}", 1),
    ("is {time} available", 2), ("anything {part}", 2), ("{date} {part}", 2),
    ("the earliest you have", 1), ("anything later", 1), ("anything earlier", 1),
    ("my name is {first} {last}", 3), ("it's {first} {last}", 2), ("{first} {last}", 2),
    ("this is {first}", 1), ("my name is {first}", 1), ("my last name is {last}", 1),
    ("my number is {digits}", 2), ("my phone number is {digits}", 2), ("it's {digits}", 1),
    ("{digits}", 3), ("the first one", 1), ("the second one", 1), ("the {time} one", 1),
    ("i'd like to book for my {relative}", 1), ("it's for my {relative}", 1),
)


def domain_sentences(services: Sequence[Service], *, seed: int = 0) -> list[str]:
    """Every template filled enough times that each value of each slot appears."""
    slots = _slots(services, random.Random(seed))
    sentences: list[str] = []
    for template, weight in _TEMPLATES:
        sentences += _expand(template, slots, weight * SENTENCES_PER_WEIGHT)
    return sentences


def vocabulary(sentences: Iterable[str]) -> set[str]:
    return {word for sentence in sentences for word in sentence.split()}


def yes_no_jsgf() -> str:
    return _jsgf("yesno", "answer", (*YES, *NO))


def digits_jsgf() -> str:
    digits = " | ".join(DIGITS)
    return (
        "#JSGF V1.0;\ngrammar digits;\n"
        f"<digit> = {digits} | double ({digits});\n"
        "public <number> = [(my [phone] number is) | it's] <digit>+;\n"
    )


def _jsgf(grammar: str, rule: str, phrases: Iterable[str]) -> str:
    return f"#JSGF V1.0;\ngrammar {grammar};\npublic <{rule}> = {' | '.join(phrases)};\n"


def _slots(services: Sequence[Service], rng: random.Random) -> dict[str, list[str]]:
    return {
        "yes": list(YES), "no": list(NO), "service": _service_words(services),
        "weekday": list(WEEKDAYS), "date": _dates(), "time": _times(),
        "part": ["in the morning", "in the afternoon", "in the evening", "this afternoon",
                 "tomorrow morning", "after lunch", "before noon"],
        "symptom": list(SYMPTOMS), "first": list(FIRST_NAMES), "last": list(SURNAMES),
        "digits": [_digit_string(rng) for _ in range(60)],
        "relative": ["son", "daughter", "wife", "husband", "mother", "father", "child"],
    }


def _expand(template: str, slots: dict[str, list[str]], count: int) -> list[str]:
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
    relative = ["today", "tomorrow", "the day after tomorrow", "next week", "this week",
                "later this week", "early next week"]
    return days + ordinals + months + weekday_dates + relative


def _times() -> list[str]:
    times = ["noon", "midday", "lunchtime", "twelve noon"]
    for hour in HOURS:
        times += [hour, f"{hour} o'clock", f"{hour} a.m.", f"{hour} p.m.",
                  f"half past {hour}", f"quarter past {hour}", f"quarter to {hour}"]
        times += [f"{hour} {m}" for m in MINUTES]
        times += [f"{hour} {m} {ap}" for m in ("fifteen", "thirty", "forty five")
                  for ap in ("a.m.", "p.m.")]
    return times


def _digit_string(rng: random.Random) -> str:
    length = rng.choice((3, 4, 7, 10))
    digits = [rng.choice(DIGITS[1:] if i == 0 else DIGITS) for i in range(length)]
    if length > 3 and rng.random() < 0.3:  # "double five": callers say it, the grammar has it
        digits[1:3] = ["double", digits[1]]
    return " ".join(digits)
