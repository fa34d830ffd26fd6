"""The shape of a text-to-speech engine, as the Synthesizer uses it.

The offline engine (``receptionist.engines.espeak.EspeakEngine``) and the cloud one
(``receptionist.engines.elevenlabs``) both fit it, so the Synthesizer does not know which it
drives.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Protocol


class SpeechEngine(Protocol):
    def stream_ulaw(self, text: str) -> AsyncGenerator[bytes, None]:
        """Speak ``text``: yield 8 kHz mu-law audio in chunks of any length, as produced.

        The first chunk should come as soon as the engine has any audio, not once the
        whole text is spoken. The caller closes the generator (``contextlib.aclosing``)
        when it stops early, on barge-in for instance: the engine must then stop its work
        promptly and leave nothing running, even when the close happens under a
        cancelled scope.

        Raises:
            SpeechSynthesisError: the engine could not speak this text.
        """
        ...
