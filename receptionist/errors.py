"""The exception tree. Vendor and library errors are mapped onto it at the adapter edge.

::

    ReceptionistError
    ├── ConfigError            bad config.toml or environment; raised at start-up
    ├── ProtocolError          a peer sent something we cannot use
    │   ├── TwilioProtocolError   a malformed or unexpected Media Streams message
    │   └── StreamRejected        a media stream that did not come from our webhook
    ├── CallDisconnected       the caller's WebSocket is gone
    ├── EngineError            an engine (STT, TTS, VAD, dialogue) failed
    │   ├── SpeechRecognitionError
    │   ├── SpeechSynthesisError
    │   └── LlmError              the LLM API failed, or streamed something unusable
    ├── SchedulerError         the appointments store failed
    │   ├── StoreUnavailable      the database could not be opened or written
    │   ├── ImportConflict        db import-sqlite: the target holds other rows under the same ids
    │   └── SlotTaken             a booking clashed (never leaves the store: a Rejection)
    ├── CalendarError          the clinic's CalDAV calendar failed (a booking never waits on it)
    │   ├── CalendarUnavailable   unreachable, timed out, or a server error: try again later
    │   ├── CalendarAuthError     the credentials were refused (HTTP 401 or 403)
    │   └── CalendarRejected      the server refused one request (another 4xx, an unusable answer)
    ├── TwilioError            Twilio's REST API failed (code, status, retryable)
    │   ├── TwilioUnavailable     unreachable, a 5xx or 429, an unusable answer: may be retried
    │   └── TwilioRejected        Twilio refused the request (4xx: 20404 not found, 21211 bad To)
    └── DeliveryFailed         a report or text was not taken: the outbox retries (retryable)
"""


class ReceptionistError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(ReceptionistError):
    """The configuration is invalid; the message names the key."""


class ProtocolError(ReceptionistError):
    """A peer sent a message we cannot use."""


class TwilioProtocolError(ProtocolError):
    """A Twilio Media Streams message is malformed or out of place."""


class StreamRejected(ProtocolError):
    """A media stream without a valid token from our own /incoming-call webhook."""


class CallDisconnected(ReceptionistError):
    """The call's WebSocket closed; raised by a MediaConnection's receive or send."""


class EngineError(ReceptionistError):
    """An engine failed."""


class SpeechRecognitionError(EngineError):
    pass


class SpeechSynthesisError(EngineError):
    pass


class LlmError(EngineError):
    """The LLM could not give a reply; ``transient`` when trying again may help."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class SchedulerError(ReceptionistError):
    """The appointments store failed."""


class StoreUnavailable(SchedulerError):
    """The database could not be opened, read or written."""


class ImportConflict(SchedulerError):
    """``db import-sqlite``: the target database holds rows that differ from the file's."""


class SlotTaken(SchedulerError):
    """A write clashed with another appointment; the store's backends raise it inside the
    transaction (so it rolls back) and the store answers ``Rejection(SLOT_TAKEN)``."""


class CalendarError(ReceptionistError):
    """The clinic's calendar failed; ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class CalendarUnavailable(CalendarError):
    """The calendar server could not be reached, timed out, or failed (5xx, 429)."""


class CalendarAuthError(CalendarError):
    """The calendar server refused the credentials, or this user may not use the calendar."""


class CalendarRejected(CalendarError):
    """The calendar server refused one request, or answered something we cannot use."""


class TwilioError(ReceptionistError):
    """Twilio's REST API failed: ``code`` is Twilio's error code (20404, 21211...) when it
    sent one, ``status`` the HTTP status; ``retryable`` when trying again may help."""

    retryable = False

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.status = status


class TwilioUnavailable(TwilioError):
    """Twilio could not be reached, failed (5xx), throttled us (429), or answered something
    we cannot read."""

    retryable = True


class TwilioRejected(TwilioError):
    """Twilio refused the request: bad credentials, an unknown call, an invalid number."""


class DeliveryFailed(ReceptionistError):
    """A report, message or SMS the receiver did not take (down, slow, refused): the outbox
    tries it again later (receptionist/staff/delivery.py) unless it is not ``retryable``."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable
