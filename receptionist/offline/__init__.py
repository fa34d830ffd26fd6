"""The offline receptionist: a deterministic, I/O-free conversation, its flows, questions and
phrasing, and the reading of spoken numbers and dates."""
