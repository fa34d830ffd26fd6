"""Per-turn latency, computed from the timestamps the messages already carry. No I/O."""

from __future__ import annotations

from receptionist.messages import TurnTimings

STAGES = ("stt", "dialogue", "sentence", "tts", "send")
"""Each stage's latency is the time from the previous milestone to its own."""


def stage_latencies_ms(timings: TurnTimings, first_frame_sent: float) -> dict[str, float | None]:
    """Milliseconds spent in each stage of one agent turn, and the total.

    ``total`` runs from the end of the caller's speech to the first frame sent to Twilio;
    stages whose milestones are missing (the greeting has no caller speech) are None. The
    end of speech is the VAD's last voiced frame, which Silero keeps voiced 60 to 120 ms past
    the caller's last loud one: the caller waits that much longer than ``total`` says (make
    bench's floor phase reports both).
    ``dialogue`` is negative when the model's first token came before the final transcript
    (preemptive generation); ``sentence`` then includes the wait for that final.
    """
    milestones = (
        timings.speech_ended,
        timings.transcript_final,
        timings.first_output,
        timings.first_sentence,
        timings.first_audio,
        first_frame_sent,
    )
    latencies: dict[str, float | None] = {}
    for stage, start, end in zip(STAGES, milestones[:-1], milestones[1:], strict=True):
        latencies[f"{stage}_ms"] = _ms(start, end)
    latencies["total_ms"] = _ms(timings.speech_ended, first_frame_sent)
    return latencies


def _ms(start: float | None, end: float | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start) * 1000, 1)
