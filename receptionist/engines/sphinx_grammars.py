"""Narrow JSGF grammars for the offline recogniser: yes/no, digits, and per-question grammars
for a day, a time and a name. Pure, no I/O.

A grammar cannot mishear "ten a m" as "can i a m": it holds only answers. Each is built from
words the pronouncing dictionary has (``known``); anything else would not load.
"""

from __future__ import annotations

from collections.abc import Iterable

from receptionist.config import WEEKDAYS
from receptionist.engines.sphinx_corpus import (
    DIGITS,
    HOURS,
    MINUTES,
    MONTHS,
    NO,
    ORDINALS,
    RELATIVE_DAYS,
    YES,
    phrases_of,
)


def yes_no_jsgf() -> str:
    phrases = " | ".join((*YES, *NO))
    return f"#JSGF V1.0;\ngrammar yesno;\npublic <answer> = {phrases};\n"


def digits_jsgf() -> str:
    digits = " | ".join(DIGITS)
    return (
        "#JSGF V1.0;\ngrammar digits;\n"
        f"<digit> = {digits} | double ({digits});\n"
        "public <number> = [(my [phone] number is) | it's] <digit>+;\n"
    )


_LEADS = phrases_of(
    "how about, what about, can i have, can i do, can i come, can i come in, i'll take,"
    " i'd like, i would like, let's do, let's say, i can do, maybe, um"
)
_CLOSERS = phrases_of("please, if that's okay, that works, would be good, is fine, thanks")
_ANOTHER = phrases_of("another day, none of those, something else, a different day")
_NAME_INTROS = phrases_of(
    "my name is, my name's, it's, this is, the name is, it is, put it under, i'm"
)
GRAMMAR_PHRASES = (
    *_LEADS,
    *_CLOSERS,
    *_ANOTHER,
    *_NAME_INTROS,
    *phrases_of("half past, quarter past, quarter to, noon, midday, a.m., p.m., o'clock"),
    *phrases_of("in the morning, in the afternoon, on the, of, at, this, next"),
)
"""Words the grammars use beyond the corpus: they go in the dictionary, not the model."""


def day_jsgf(known: set[str]) -> str:
    weekdays = _alternatives(WEEKDAYS, known)
    ordinals = _alternatives(ORDINALS, known)
    months = _alternatives(MONTHS, known)
    relative = _alternatives(RELATIVE_DAYS, known)
    return _grammar(
        "day",
        f"<weekday> = {weekdays};\n<ordinal> = {ordinals};\n<month> = {months};\n"
        "<date> = [on] [this | next] <weekday> [the <ordinal>]"
        f" | [on] the <ordinal> [of <month>] | <month> [the] <ordinal> | {relative};\n"
        f"<another> = {_alternatives(_ANOTHER, known)};\n",
        "[<lead>] (<date> | <another>) [<closer>]",
        known,
    )


def time_jsgf(known: set[str]) -> str:
    """Without the longer leads: "can i ..." is where a misheard "ten" ends up."""
    hours = _alternatives(HOURS, known)
    minutes = _alternatives(MINUTES, known)
    weekdays = _alternatives(WEEKDAYS, known)
    return _grammar(
        "time",
        f"<hour> = {hours};\n<minute> = {minutes};\n<weekday> = {weekdays};\n"
        "<part> = a.m. | p.m. | in the morning | in the afternoon | o'clock;\n"
        "<clock> = <hour> [<minute>] [<part>] | (half past | quarter past | quarter to) <hour>"
        " | noon | midday;\n"
        f"<other> = {_alternatives(_ANOTHER, known)} | [on] [next] <weekday>;\n",
        "[how about | what about] ([at] <clock> | <other>) [<closer>]",
        known,
    )


def name_jsgf(known: set[str], first_names: Iterable[str], surnames: Iterable[str]) -> str:
    return _grammar(
        "name",
        f"<first> = {_alternatives(first_names, known)};\n"
        f"<last> = {_alternatives(surnames, known)};\n"
        f"<intro> = {_alternatives(_NAME_INTROS, known)};\n",
        "[<intro>] <first> [<last>] [please]",
        known,
    )


def _grammar(name: str, rules: str, public: str, known: set[str]) -> str:
    return (
        f"#JSGF V1.0;\ngrammar {name};\n"
        f"<lead> = {_alternatives(_LEADS, known)};\n<closer> = {_alternatives(_CLOSERS, known)};\n"
        f"{rules}public <answer> = {public};\n"
    )


def _alternatives(phrases: Iterable[str], known: set[str]) -> str:
    """``a | b | c`` of the phrases whose every word has a pronunciation, lower case."""
    usable = sorted({p.lower() for p in phrases if all(w in known for w in p.lower().split())})
    if not usable:
        raise ValueError("no phrase of a grammar rule is in the pronouncing dictionary")
    return " | ".join(usable)
