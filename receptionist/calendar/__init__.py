"""The clinic's own calendar over CalDAV: bookings written to it, staff events read from it.

config.py (the ``[calendar]`` section), auth.py (basic, or OAuth bearer with renewal),
caldav.py (the HTTP client), events.py (iCalendar in and out), pusher.py (the outbox
writer), busy.py (busy times for offering and booking), service.py (what a server process
runs), check.py (``receptionist calendar check``). The local store always decides; the
calendar follows it, and never holds up a caller.
"""
