"""The offline recogniser on synthetic 8 kHz phone speech, and its language model's parts.

WER bounds are the figures of ``bench/stt_bench.py`` (caller voice en-us+f2, seed 0) with
margin: booking sentences 22% measured, yes/no answers 16%, phone numbers 40%. The speech
is the same on every run (``phone_speech`` seeds espeak), so the figures are too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from receptionist.config import Config
from receptionist.engines import sphinx_corpus
from receptionist.engines.names import FIRST_NAMES, SURNAMES
from receptionist.engines.sphinx import (
    Decoded,
    Recognition,
    SphinxModel,
    SphinxRecognizer,
    choose,
    upsample,
)
from receptionist.errors import SpeechRecognitionError
from receptionist.messages import Expectation

from .conftest import PROJECT_ROOT
from .phone_speech import caller_says, padded

SETS = PROJECT_ROOT / "bench" / "stt_sets"


@pytest.fixture(scope="module")
def model(project_config: Config) -> Iterator[SphinxModel]:
    model = SphinxModel(project_config.services)
    yield model
    model.close()


@pytest.fixture(scope="module")
def recognizer(model: SphinxModel) -> SphinxRecognizer:
    return model.new_recognizer()


def hear(recognizer: SphinxRecognizer, text: str, expect: Expectation = Expectation.OPEN) -> str:
    return recognizer.recognize(padded(caller_says(text)), expect).text


def word_error_rate(recognizer: SphinxRecognizer, set_name: str, expect: Expectation) -> float:
    errors = words = 0
    for line in (SETS / f"{set_name}.txt").read_text().splitlines():
        ref, hyp = line.split(), hear(recognizer, line, expect).split()
        row = list(range(len(hyp) + 1))
        for i, r in enumerate(ref, 1):
            diagonal, row[0] = row[0], i
            for j, h in enumerate(hyp, 1):
                diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (r != h))
        errors, words = errors + row[-1], words + len(ref)
    return errors / words


@pytest.mark.parametrize(
    "text",
    ["next tuesday", "three thirty p m", "yes please", "what are your opening hours",
     "i need to cancel my appointment", "no thank you goodbye"],
)  # fmt: skip
def test_domain_model_recognises_booking_phrases(recognizer: SphinxRecognizer, text: str) -> None:
    assert hear(recognizer, text) == text


def test_booking_sentences_word_error_rate(recognizer: SphinxRecognizer) -> None:
    assert word_error_rate(recognizer, "booking", Expectation.OPEN) <= 0.35


def test_yes_no_answers_word_error_rate(recognizer: SphinxRecognizer) -> None:
    assert word_error_rate(recognizer, "yes_no", Expectation.YES_NO) <= 0.25


def test_phone_numbers_word_error_rate(recognizer: SphinxRecognizer) -> None:
    assert word_error_rate(recognizer, "digits", Expectation.DIGITS) <= 0.5


@pytest.mark.parametrize("text", ["yes", "no", "yes please", "no thank you", "that's right"])
def test_yes_no_grammar(recognizer: SphinxRecognizer, text: str) -> None:
    heard = hear(recognizer, text, Expectation.YES_NO)
    assert heard in sphinx_corpus.YES + sphinx_corpus.NO
    assert (heard in sphinx_corpus.YES) == (text in sphinx_corpus.YES)


def test_digits_grammar(recognizer: SphinxRecognizer) -> None:
    text = "five five five one two three four"
    assert hear(recognizer, text, Expectation.DIGITS) == text


@pytest.mark.parametrize("expect", [Expectation.YES_NO, Expectation.DIGITS])
def test_an_off_script_answer_is_not_forced_into_the_grammar(
    recognizer: SphinxRecognizer, expect: Expectation
) -> None:
    text = "i need to cancel my appointment"
    assert hear(recognizer, text, expect) == text


def test_line_noise_is_heard_as_nothing(recognizer: SphinxRecognizer) -> None:
    assert recognizer.recognize(padded(b""), Expectation.OPEN).text == ""


# --- Pure parts ------------------------------------------------------------------------


def test_choose_keeps_a_grammar_answer() -> None:
    heard = choose(Expectation.YES_NO, Decoded("the at", 0.1), Decoded("yes it is", 0.5))
    assert heard == Recognition("yes it is", 0.5)
    heard = choose(Expectation.YES_NO, Decoded("yeah i leave", 0.1), Decoded("yes please", 0.5))
    assert heard.text == "yes please"


def test_choose_prefers_the_open_model_off_script() -> None:
    open_result = Decoded("can i move it to friday", 0.01)
    assert choose(Expectation.YES_NO, open_result, Decoded("not really", 0.4)).text == (
        "can i move it to friday"
    )
    assert choose(Expectation.DIGITS, open_result, Decoded("nine two oh", 0.0)).text == (
        "can i move it to friday"
    )
    assert choose(Expectation.DIGITS, Decoded("my one two", 0), Decoded("one two", 0)).text == (
        "one two"
    )


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
