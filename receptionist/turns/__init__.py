"""Turn-taking: who holds the floor (``turn_taking``, its ``turn_events``; how long a
turn is waited on, ``end_of_turn``; what the caller heard, ``heard``), the agent turn
being sent (``agent_turn``), the cancel-scope broadcast of barge-in (``cancellation``), the
lexicon of turn words, the one sentence splitter (``sentences``), reprompts after silence
(``reprompts``), what the Dialogue and its brains say to each other (``brain``), per-turn
latency. All I/O-free."""
