"""Turn-taking: who holds the floor, the cancel-scope broadcast of barge-in, the lexicon of
turn words, the one sentence splitter, per-turn latency. All I/O-free."""
