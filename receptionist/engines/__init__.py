"""Offline engines: VAD, speech recognition, speech synthesis."""
