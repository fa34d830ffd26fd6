"""Call records: what each call said, heard, timed and booked, kept for review (/calls).

- ``collector``: a call's ``CallRecording``, fed synchronously by the call's actors'
  messages (a tap in the supervisor, TwilioIO's view of the audio), never blocking, and by
  the log events no message carries (``logs.record_call_events``).
- ``tracks``: the two audio tracks as the caller heard them, in chunks for the recorder.
- ``recorder``: the per-process recorder actor that writes records and recordings in a
  worker thread, and the daily retention sweep.
- ``store``: the ``calls`` table, in the appointments' database and migrations.
- ``wav``: the stereo recording, written as the call goes.
"""
