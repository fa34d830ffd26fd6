"""Developer tools: replay, caller fixtures, the Twilio caller emulator, the protocol fakes
and the benchmarks. Nothing the server imports."""
