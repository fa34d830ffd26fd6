"""The offline recogniser on synthetic 8 kHz phone speech, and its language model's parts.

WER bounds: ``python -m receptionist.devtools.bench.stt`` (caller voice en-us+f2) measures, over
booking sentences 23-27%, yes/no answers 13-29%, phone numbers 23-41%. The takes used here
are fixed (``first_takes``) and score 25%, 21% and 39%; the bounds leave room for the
spread between takes should the phrase lists or espeak change.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from receptionist.config import Config
from receptionist.devtools.phone_speech import first_takes, padded
from receptionist.engines import sphinx_corpus
from receptionist.engines.names import FIRST_NAMES, SURNAMES
from receptionist.engines.sphinx import (
    Recognition,
    SphinxModel,
    SphinxRecognizer,
    choose,
    upsample,
)
from receptionist.errors import SpeechRecognitionError
from receptionist.messages import Expectation
from tests.helpers.paths import PROJECT_ROOT

SETS = PROJECT_ROOT / "receptionist" / "devtools" / "bench" / "stt_sets"


@pytest.fixture(scope="module")
def model(project_config: Config) -> Iterator[SphinxModel]:
    model = SphinxModel(project_config.services)
    yield model
    model.close()


@pytest.fixture(scope="module")
def recognizer(model: SphinxModel) -> SphinxRecognizer:
    return model.new_recognizer()


BOOKING_PHRASES = (
    "three thirty p m", "half past two", "yes please", "what are your opening hours",
    "i need to cancel my appointment", "move my appointment", "no thank you goodbye",
)  # fmt: skip
YES_NO_PHRASES = ("yes", "no", "yes please", "no thank you", "that's right")
PHONE_NUMBER = "two oh two five five five one two three four"


def set_lines(set_name: str) -> list[str]:
    return (SETS / f"{set_name}.txt").read_text().splitlines()


@pytest.fixture(scope="module")
def takes() -> dict[str, bytes]:
    """Every phrase these tests say: the same audio on every run, whatever tests ran before
    or were deselected (see first_takes)."""
    sets = [line for name in ("booking", "yes_no", "digits") for line in set_lines(name)]
    return first_takes(
        list(dict.fromkeys((*BOOKING_PHRASES, *YES_NO_PHRASES, PHONE_NUMBER, *sets)))
    )


def hear_take(
    recognizer: SphinxRecognizer, take: bytes, expect: Expectation = Expectation.OPEN
) -> str:
    return recognizer.recognize(padded(take), expect).text


def word_error_rate(
    recognizer: SphinxRecognizer, takes: dict[str, bytes], set_name: str, expect: Expectation
) -> float:
    errors = words = 0
    for line in set_lines(set_name):
        ref, hyp = line.split(), hear_take(recognizer, takes[line], expect).split()
        row = list(range(len(hyp) + 1))
        for i, r in enumerate(ref, 1):
            diagonal, row[0] = row[0], i
            for j, h in enumerate(hyp, 1):
                diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (r != h))
        errors, words = errors + row[-1], words + len(ref)
    return errors / words


@pytest.mark.parametrize("text", BOOKING_PHRASES)
def test_domain_model_recognises_booking_phrases(
    recognizer: SphinxRecognizer, takes: dict[str, bytes], text: str
) -> None:
    assert hear_take(recognizer, takes[text]) == text


def test_booking_sentences_word_error_rate(
    recognizer: SphinxRecognizer, takes: dict[str, bytes]
) -> None:
    assert word_error_rate(recognizer, takes, "booking", Expectation.OPEN) <= 0.35


def test_yes_no_answers_word_error_rate(
    recognizer: SphinxRecognizer, takes: dict[str, bytes]
) -> None:
    assert word_error_rate(recognizer, takes, "yes_no", Expectation.YES_NO) <= 0.35


def test_phone_numbers_word_error_rate(
    recognizer: SphinxRecognizer, takes: dict[str, bytes]
) -> None:
    assert word_error_rate(recognizer, takes, "digits", Expectation.DIGITS) <= 0.55


@pytest.mark.parametrize("text", YES_NO_PHRASES)
def test_yes_no_grammar(recognizer: SphinxRecognizer, takes: dict[str, bytes], text: str) -> None:
    heard = hear_take(recognizer, takes[text], Expectation.YES_NO)
    assert heard in sphinx_corpus.YES + sphinx_corpus.NO
    assert (heard in sphinx_corpus.YES) == (text in sphinx_corpus.YES)


def test_digits_grammar(recognizer: SphinxRecognizer, takes: dict[str, bytes]) -> None:
    assert hear_take(recognizer, takes[PHONE_NUMBER], Expectation.DIGITS) == PHONE_NUMBER


@pytest.mark.parametrize("expect", [Expectation.YES_NO, Expectation.DIGITS])
def test_an_off_script_answer_is_not_forced_into_the_grammar(
    recognizer: SphinxRecognizer, takes: dict[str, bytes], expect: Expectation
) -> None:
    text = "i need to cancel my appointment"
    assert hear_take(recognizer, takes[text], expect) == text


def test_line_noise_is_heard_as_nothing(recognizer: SphinxRecognizer) -> None:
    assert recognizer.recognize(padded(b""), Expectation.OPEN).text == ""


# --- Pure parts ------------------------------------------------------------------------


def test_choose_keeps_a_grammar_answer() -> None:
    heard = choose(Expectation.YES_NO, Recognition("the at", 0.1), Recognition("yes it is", 0.5))
    assert heard == Recognition("yes it is", 0.5)
    heard = choose(
        Expectation.YES_NO, Recognition("yeah i leave", 0.1), Recognition("yes please", 0.5)
    )
    assert heard.text == "yes please"


def test_choose_prefers_the_open_model_off_script() -> None:
    open_result = Recognition("can i move it to friday", 0.01)
    assert choose(Expectation.YES_NO, open_result, Recognition("not really", 0.4)).text == (
        "can i move it to friday"
    )
    assert choose(Expectation.DIGITS, open_result, Recognition("nine two oh", 0.0)).text == (
        "can i move it to friday"
    )
    assert choose(
        Expectation.DIGITS, Recognition("my one two", 0), Recognition("one two", 0)
    ).text == ("one two")


def test_upsample_doubles_the_rate() -> None:
    assert len(upsample(b"\x00\x10" * 160)) == 2 * 320


def test_every_grammar_word_has_a_pronunciation(model: SphinxModel) -> None:
    words = {line.split()[0] for line in model.dictionary.read_text().splitlines()}
    grammar_words = sphinx_corpus.vocabulary((*sphinx_corpus.YES, *sphinx_corpus.NO))
    assert grammar_words | set(sphinx_corpus.DIGITS) | {"double", "number", "my"} <= words


def test_most_names_are_in_the_bundled_dictionary(model: SphinxModel) -> None:
    words = {line.split()[0] for line in model.dictionary.read_text().splitlines()}
    names = set(FIRST_NAMES) | set(SURNAMES)
    assert len(names & words) >= 0.95 * len(names)
    assert len(names) >= 400


def test_missing_model_files_are_recognition_errors(project_config: Config) -> None:
    model = SphinxModel(project_config.services)
    Path(model.language_model).unlink()
    with pytest.raises(SpeechRecognitionError):
        model.new_recognizer()
    model.close()


def test_a_decoder_failure_is_a_recognition_error(
    recognizer: SphinxRecognizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recognizer, "_decoder", _Broken())
    with pytest.raises(SpeechRecognitionError):
        recognizer.recognize(b"\x00\x00" * 800, Expectation.OPEN)


class _Broken:
    """Stands in for pocketsphinx's Decoder, failing as it does: with RuntimeError."""

    def activate_search(self, _name: str | None) -> None:
        raise RuntimeError("decoder is broken")
