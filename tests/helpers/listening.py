"""Audio for the Listener's recogniser tests: a tone where a script has speech, digital
silence elsewhere, and a VAD that tells the two apart."""

from __future__ import annotations

import math
from array import array

from receptionist.devtools.fakes.deepgram_script import ScriptedUtterance
from receptionist.engines.audio import pcm16_to_ulaw
from receptionist.messages import FRAME_BYTES, ULAW_SILENCE

FRAME_S = 0.02
SPEECH = pcm16_to_ulaw(
    array("h", (int(8000 * math.sin(2 * math.pi * 300 * n / 8000)) for n in range(160))).tobytes()
)
SILENCE = ULAW_SILENCE * FRAME_BYTES


def frames_for(script: list[ScriptedUtterance], seconds: float) -> list[bytes]:
    """Tone where the script has speech (the local VAD hears it), silence elsewhere."""
    times = (n * FRAME_S for n in range(round(seconds / FRAME_S)))
    return [SPEECH if any(u.start <= t < u.end for u in script) else SILENCE for t in times]


class LoudVad:
    """Speech is anything louder than silence: the test audio is a tone or digital silence."""

    async def probability(self, pcm16: bytes) -> float:
        return 1.0 if max(array("h", pcm16)) > 1000 else 0.0
