"""make bench and the engine benchmarks: python -m receptionist.devtools.bench[.vad|.stt|.tts]."""
