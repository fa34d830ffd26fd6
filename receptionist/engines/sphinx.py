"""Offline speech recognition with pocketsphinx 5 and a domain language model.

Once per process, ``SphinxModel(services)`` writes a small pronouncing dictionary, an ARPA
language model trained on booking-call sentences (``sphinx_corpus``) and two grammars
(yes/no, digits) to a private temporary directory. Each call then gets its own
``SphinxRecognizer`` (a pocketsphinx ``Decoder``: not thread-safe, so never shared), whose
blocking ``recognize`` the Listener runs in a worker thread, one utterance at a time.

Phone audio is 8 kHz; the bundled en-us acoustic model is 16 kHz. Upsampling and keeping
the model's own front end beat re-configuring it for 8 kHz (``-samprate 8000 -nfft 256
-upperf 3500``), measured in ``bench/stt_bench.py``.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pocketsphinx
from pocketsphinx.lm import ArpaBoLM

from receptionist.config import Service
from receptionist.engines import sphinx_corpus
from receptionist.errors import SpeechRecognitionError
from receptionist.messages import SAMPLE_RATE, Expectation

MODEL_RATE = 16000
"""The bundled en-us acoustic model's sampling rate."""
_SEARCHES = {
    Expectation.OPEN: "domain",
    Expectation.YES_NO: "yes_no",
    Expectation.DIGITS: "digits",
}


@dataclass(frozen=True, slots=True)
class Recognition:
    text: str
    """Lower-case words, fillers removed; empty when nothing was recognised."""
    confidence: float | None
    """Posterior probability of the hypothesis in [0, 1], when the search gives one."""


class SphinxModel:
    """Per-process: the files every call's decoder loads. Building takes well under 1 s.

    Args:
        services: the clinic's services, whose names and words go into the language model.
        extra_sentences: more training sentences (tests, site-specific phrases).

    Raises:
        SpeechRecognitionError: the bundled model files are missing.
    """

    def __init__(self, services: Sequence[Service], extra_sentences: Iterable[str] = ()) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="receptionist-sphinx-")
        root = Path(self._dir.name)
        sentences = [*sphinx_corpus.domain_sentences(services), *extra_sentences]
        self.dictionary = _write_dictionary(root / "domain.dict", sentences)
        self.language_model = _write_arpa(root / "domain.lm", sentences, self.dictionary)
        self.grammars = {
            "yes_no": sphinx_corpus.yes_no_jsgf(),
            "digits": sphinx_corpus.digits_jsgf(),
        }

    def new_recognizer(self) -> SphinxRecognizer:
        """Blocking (loads the acoustic model): call it in a worker thread."""
        return SphinxRecognizer(self)

    def close(self) -> None:
        self._dir.cleanup()


class SphinxRecognizer:
    """One call's decoder. Use from one thread at a time."""

    def __init__(self, model: SphinxModel) -> None:
        try:
            self._decoder = pocketsphinx.Decoder(
                hmm=pocketsphinx.get_model_path("en-us/en-us"),
                dict=str(model.dictionary),
                lm=str(model.language_model),
                loglevel="FATAL",
            )
            for name, jsgf in model.grammars.items():
                self._decoder.add_jsgf_string(name, jsgf)
        except (RuntimeError, ValueError) as exc:
            raise SpeechRecognitionError(f"cannot load the speech recogniser: {exc}") from exc
        self._default_search = self._decoder.current_search()

    def recognize(self, pcm16: bytes, expectation: Expectation = Expectation.OPEN) -> Recognition:
        """Decode one whole utterance of 8 kHz 16-bit PCM. Blocking: run it in a thread.

        Raises:
            SpeechRecognitionError: pocketsphinx failed.
        """
        search = _SEARCHES[expectation]
        try:
            self._decoder.activate_search(None if search == "domain" else search)
            self._decoder.start_utt()
            self._decoder.process_raw(upsample(pcm16), full_utt=True)
            self._decoder.end_utt()
            hyp = self._decoder.hyp()
        except (RuntimeError, KeyError) as exc:
            raise SpeechRecognitionError(f"pocketsphinx failed: {exc}") from exc
        if hyp is None:
            return Recognition("", None)
        confidence = math.exp(self._decoder.logmath.log_to_ln(hyp.prob))
        return Recognition(_clean(hyp.hypstr), min(1.0, confidence))


def upsample(pcm16: bytes) -> bytes:
    """8 kHz -> 16 kHz by linear interpolation (the band above 4 kHz stays empty anyway)."""
    x = np.frombuffer(pcm16, dtype=np.int16).astype(np.float32)
    ratio = MODEL_RATE // SAMPLE_RATE
    positions = np.arange(len(x) * ratio, dtype=np.float32) / ratio
    return np.interp(positions, np.arange(len(x)), x).astype(np.int16).tobytes()


def _clean(hypstr: str) -> str:
    """Drop fillers (<sil>, [NOISE]) and pronunciation variants (word(2))."""
    words = (w.split("(")[0] for w in hypstr.split())
    return " ".join(w for w in words if not w.startswith(("<", "[")))


def _write_dictionary(path: Path, sentences: Iterable[str]) -> Path:
    """The bundled CMUdict cut down to our vocabulary: faster to load, fewer confusions."""
    vocabulary = sphinx_corpus.vocabulary(sentences)
    source = Path(pocketsphinx.get_model_path("en-us/cmudict-en-us.dict"))
    lines = [
        line for line in source.read_text(encoding="utf-8").splitlines()
        if line.split(" ", 1)[0].split("(", 1)[0] in vocabulary
    ]
    if not lines:
        raise SpeechRecognitionError(f"no vocabulary found in {source}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _write_arpa(path: Path, sentences: Sequence[str], dictionary: Path) -> Path:
    """Train the ARPA model on sentences whose every word has a pronunciation."""
    known = {line.split(" ", 1)[0] for line in dictionary.read_text(encoding="utf-8").splitlines()}
    usable = [s for s in sentences if all(w in known for w in s.split())]
    lm = ArpaBoLM(text="\n".join(usable), add_start=True)
    lm.compute()
    with path.open("w", encoding="utf-8") as out:
        lm.write(out)
    return path
