"""Call records: what each call said, heard, timed and booked, kept for review (/calls).

- ``collector``: a call's ``CallRecording``, fed synchronously by the call's actors'
  messages (a tap in the supervisor, TwilioIO's view of the audio), never blocking.
- ``recorder``: the per-process recorder actor that writes records and recordings in a
  worker thread, and the daily retention sweep.
- ``store``: the ``calls`` table, in the appointments' database and migrations.
- ``wav``: the stereo recording, written as the call goes.
"""
