"""Offline speech recognition with pocketsphinx 5 and a domain language model.

Once per process, ``SphinxModel(services)`` writes a small pronouncing dictionary, an ARPA
language model trained on booking-call sentences (``sphinx_corpus``) and two grammars
(yes/no, digits) to a private temporary directory. Each call then gets its own
``SphinxRecognizer`` (a pocketsphinx ``Decoder``: not thread-safe, so never shared; about
15 ms and 9 MB to make), whose blocking ``recognize`` runs off the event loop, one utterance
at a time: in worker processes in the server, or in a thread (``engines.decoding``).

Phone audio is 8 kHz; the bundled en-us acoustic model is 16 kHz. Upsampling (see
``upsample``) and keeping the model's own front end beats re-configuring it for 8 kHz
(``-samprate 8000 -nfft 256 -upperf 3500``: WER about 100%, as its filterbank no longer
matches the one the model was trained with).
Figures: ``receptionist/devtools/bench/stt.py``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pocketsphinx
from pocketsphinx.lm import ArpaBoLM

from receptionist.config import WEEKDAYS, Service
from receptionist.engines import sphinx_corpus, sphinx_grammars
from receptionist.engines.names import FIRST_NAMES, SURNAMES
from receptionist.errors import SpeechRecognitionError
from receptionist.messages import SAMPLE_RATE, Expectation

MODEL_RATE = 16000
"""The bundled en-us acoustic model's sampling rate."""
DISCOUNT_MASS = 0.1
"""Probability the language model keeps back for unseen word sequences. pocketsphinx's
default (0.5) suits big corpora; ours is small and templated, so it is trusted more. In
trials 0.1 did a few points of WER better than 0.5, about the spread between takes."""
OFF_SCRIPT_WORDS = 3
"""An open-model hypothesis this long with no answer-like word in it means the caller said
something else than the grammar holds (see ``choose``)."""
_KEYWORDS = {
    Expectation.YES_NO: frozenset(
        sphinx_corpus.vocabulary((*sphinx_corpus.YES, *sphinx_corpus.NO))
        - {"that's", "it", "is", "of", "do", "go", "not", "that", "you", "sounds", "really"}
    ),
    Expectation.DIGITS: frozenset((*sphinx_corpus.DIGITS, "double", "number")),
}
_CALENDAR_WORDS = frozenset(
    sphinx_corpus.vocabulary(
        (*WEEKDAYS, *sphinx_corpus.MONTHS, *sphinx_corpus.ORDINALS, *sphinx_corpus.RELATIVE_DAYS)
    )
    - {"the", "day", "after", "next", "this", "week", "early", "later"}
)
_KEYWORDS[Expectation.DAY] = _CALENDAR_WORDS | {"another", "none"}
_KEYWORDS[Expectation.TIME] = (
    frozenset(
        # "m" is what is left of "a.m."/"p.m." once the hypothesis is cleaned ("ten a m").
        (*sphinx_corpus.HOURS, "m", "noon", "midday", "half", "quarter", "o'clock")
    )
    | {"another", "none"}
    | frozenset(WEEKDAYS)
)
# The open model rarely hears a name right, but it does hear "my name is": that, or any
# name, says the caller answered in kind.
_KEYWORDS[Expectation.NAME] = frozenset(
    w.lower() for w in (*FIRST_NAMES, *SURNAMES, "my", "name", "name's", "it's", "i'm")
)
_GRAMMARS = {
    Expectation.YES_NO: "yes_no",
    Expectation.DIGITS: "digits",
    Expectation.DAY: "day",
    Expectation.TIME: "time",
    Expectation.NAME: "name",
}


@dataclass(frozen=True, slots=True)
class Recognition:
    text: str
    """Lower-case words, no punctuation but apostrophes ("i'd like", "ten a m"); empty when
    nothing was heard."""
    confidence: float | None
    """pocketsphinx's posterior probability of the whole hypothesis, in [0, 1]. Near 1 for
    a clear grammar match; small for long open sentences even when right: compare like with
    like."""


class SphinxModel:
    """Per-process: the files every call's decoder loads. Building takes about 0.1 s.

    Args:
        services: the clinic's services, whose names and words go into the language model.
        extra_sentences: more training sentences (site-specific phrases).

    Raises:
        SpeechRecognitionError: the bundled model files are missing.
    """

    def __init__(self, services: Sequence[Service], extra_sentences: Iterable[str] = ()) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="receptionist-sphinx-")
        root = Path(self._dir.name)
        sentences = [*sphinx_corpus.domain_sentences(services), *extra_sentences]
        try:
            self.dictionary = _write_dictionary(
                root / "domain.dict", [*sentences, *sphinx_grammars.GRAMMAR_PHRASES]
            )
            self.language_model = _write_arpa(root / "domain.lm", sentences, self.dictionary)
        except OSError as exc:
            self._dir.cleanup()
            raise SpeechRecognitionError(f"cannot build the language model: {exc}") from exc
        known = _known_words(self.dictionary)
        self.grammars = {
            "yes_no": sphinx_grammars.yes_no_jsgf(),
            "digits": sphinx_grammars.digits_jsgf(),
            "day": sphinx_grammars.day_jsgf(known),
            "time": sphinx_grammars.time_jsgf(known),
            "name": sphinx_grammars.name_jsgf(known, FIRST_NAMES, SURNAMES),
        }

    @property
    def spec(self) -> DecoderSpec:
        """What a decoder is built from, for another process (the files live until close)."""
        return DecoderSpec(
            str(self.dictionary), str(self.language_model), tuple(self.grammars.items())
        )

    def new_recognizer(self) -> SphinxRecognizer:
        """A decoder for one call (about 15 ms and 9 MB). Blocking: run it in a thread."""
        return SphinxRecognizer(self.spec)

    def close(self) -> None:
        """Delete the model files (decoders already made keep working)."""
        self._dir.cleanup()


@dataclass(frozen=True, slots=True)
class DecoderSpec:
    """The files and grammars of a ``SphinxModel``: picklable, for decoder processes."""

    dictionary: str
    language_model: str
    grammars: tuple[tuple[str, str], ...]


class SphinxRecognizer:
    """A decoder (one call's, or one worker process's). Use from one thread at a time.

    Raises:
        SpeechRecognitionError: the decoder cannot be built from the model's files.
    """

    def __init__(self, spec: DecoderSpec) -> None:
        try:
            self._decoder = pocketsphinx.Decoder(
                hmm=pocketsphinx.get_model_path("en-us/en-us"),
                dict=spec.dictionary,
                lm=spec.language_model,
                loglevel="FATAL",
            )
            for name, jsgf in spec.grammars:
                self._decoder.add_jsgf_string(name, jsgf)
        except (RuntimeError, ValueError) as exc:
            raise SpeechRecognitionError(f"cannot load the speech recogniser: {exc}") from exc

    def recognize(self, pcm16: bytes, expectation: Expectation = Expectation.OPEN) -> Recognition:
        """Decode one whole utterance of 8 kHz 16-bit PCM. Blocking: run it in a thread.

        A yes/no or digits expectation decodes twice, with the open model and the grammar,
        and keeps the grammar's answer only if the caller seems to have answered in kind.

        Raises:
            SpeechRecognitionError: pocketsphinx failed.
        """
        audio = upsample(pcm16)
        open_result = self._decode(audio, None)
        grammar = _GRAMMARS.get(expectation)
        if grammar is None:
            return open_result
        return choose(expectation, open_result, self._decode(audio, grammar))

    def _decode(self, audio: bytes, search: str | None) -> Recognition:
        try:
            self._decoder.activate_search(search)  # None: the language model
            self._decoder.start_utt()
            self._decoder.process_raw(audio, full_utt=True)
            self._decoder.end_utt()
            hyp = self._decoder.hyp()
        except (RuntimeError, KeyError, ValueError) as exc:
            raise SpeechRecognitionError(f"pocketsphinx failed: {exc}") from exc
        if hyp is None:
            return Recognition("", None)
        return Recognition(_clean(hyp.hypstr), min(1.0, max(0.0, hyp.prob)))


def choose(expectation: Expectation, open_result: Recognition, narrow: Recognition) -> Recognition:
    """The grammar's answer when the caller answered in kind, else the open model's.

    A grammar can only say what it holds: asked "is that right?", a caller who says "can
    we make it Friday" comes out as "not really". The open model is poor at short answers
    and digit strings but does tell those apart from other sentences: when it heard
    ``OFF_SCRIPT_WORDS`` or more words and none sounds like an answer (a yes/no word, a
    digit), the caller went off script and its words are the better guess. (Comparing the
    two searches' scores was tried: where the margin falls depends on the voice.)
    """
    words = open_result.text.split()
    off_script = len(words) >= OFF_SCRIPT_WORDS and not _KEYWORDS[expectation].intersection(words)
    return open_result if off_script or not narrow.text else narrow


def upsample(pcm16: bytes) -> bytes:
    """8 kHz -> 16 kHz by inserting a zero after every sample, with no filter.

    The 0-4 kHz band is kept and mirrored into 4-8 kHz. The acoustic model was trained on
    wideband speech, where consonants (t, s, f) carry energy up there; the mirror puts some
    back. Against linear interpolation (which leaves 4-8 kHz nearly empty) booking WER is
    25.0% vs 25.9% with the fixtures' voice and 40.9% vs 42.9% with espeak's en-us (bench),
    phone numbers 36% vs 39%. The level drops 6 dB, which cepstral mean normalisation
    removes.
    """
    samples = np.frombuffer(pcm16, dtype=np.int16)
    out = np.zeros(len(samples) * (MODEL_RATE // SAMPLE_RATE), dtype=np.int16)
    out[:: MODEL_RATE // SAMPLE_RATE] = samples
    return out.tobytes()


def _clean(hypstr: str) -> str:
    """Drop fillers (<sil>, [NOISE]), variant marks (word(2)); "a.m." -> "a m"."""
    words = (w.split("(")[0] for w in hypstr.split())
    text = " ".join(w for w in words if not w.startswith(("<", "[")))
    return text.replace("a.m.", "a m").replace("p.m.", "p m")


def _write_dictionary(path: Path, sentences: Iterable[str]) -> Path:
    """The bundled CMUdict cut down to our vocabulary: faster to load, fewer confusions."""
    vocabulary = sphinx_corpus.vocabulary(sentences)
    source = Path(pocketsphinx.get_model_path("en-us/cmudict-en-us.dict"))
    lines = [
        line
        for line in source.read_text(encoding="utf-8").splitlines()
        if line.split(" ", 1)[0].split("(", 1)[0] in vocabulary
    ]
    if not lines:
        raise SpeechRecognitionError(f"no vocabulary found in {source}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _known_words(dictionary: Path) -> set[str]:
    lines = dictionary.read_text(encoding="utf-8").splitlines()
    return {line.split(" ", 1)[0].split("(", 1)[0] for line in lines}


def _write_arpa(path: Path, sentences: Sequence[str], dictionary: Path) -> Path:
    """Train the ARPA model on sentences whose every word has a pronunciation."""
    known = _known_words(dictionary)
    usable = [s for s in sentences if all(w in known for w in s.split())]
    lm = ArpaBoLM(text="\n".join(usable), add_start=True, discount_mass=DISCOUNT_MASS)
    lm.compute()
    with path.open("w", encoding="utf-8") as out:
        lm.write(out)
    return path
