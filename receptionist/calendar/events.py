"""iCalendar in and out: a booking as a VEVENT, and the busy spans of the staff's events.

No I/O. ``icalendar`` writes and reads RFC 5545 (escaping, folding, VTIMEZONE);
``recurring-ical-events`` expands recurring events on our side (RRULE, RDATE, EXDATE and
moved or cancelled single occurrences), because servers' support for CalDAV's own
``<C:expand>`` is uneven and a recurring staff meeting must block every one of its days.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
import structlog

log = structlog.get_logger(__name__)

Span = tuple[datetime, datetime]
"""[start, end), aware, in the clinic's timezone."""

PRODID = "-//receptionist//CalDAV booking sync//EN"


def event_uid(prefix: str, appointment_id: int) -> str:
    """The event's UID, and its resource name: stable for the life of the booking."""
    return f"{prefix}-{appointment_id}"


def appointment_event(
    appointment: Mapping[str, Any], tz: ZoneInfo, uid: str, now: datetime
) -> bytes:
    """One VCALENDAR with the booking's VEVENT, its times in the clinic's timezone.

    Args:
        appointment: the outbox payload's ``appointment``: id, start and end (ISO, aware),
            service, name, phone, reason, and practitioner where the clinic has them.
        now: the DTSTAMP.
    """
    event = icalendar.Event()
    event.add("uid", uid)
    event.add("dtstamp", now.astimezone(UTC))
    event.add("dtstart", datetime.fromisoformat(appointment["start"]).astimezone(tz))
    event.add("dtend", datetime.fromisoformat(appointment["end"]).astimezone(tz))
    with_whom = f" ({appointment['practitioner']})" if appointment.get("practitioner") else ""
    event.add("summary", f"{appointment['service']}: {appointment['name']}{with_whom}")
    event.add("description", _description(appointment))
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add_component(event)
    calendar.add_missing_timezones()  # the VTIMEZONE for the clinic's TZID
    return bytes(calendar.to_ical())


def _description(appointment: Mapping[str, Any]) -> str:
    lines = [f"Phone: {appointment['phone']}"]
    if appointment.get("practitioner"):
        lines.append(f"With: {appointment['practitioner']}")
    if appointment.get("reason"):
        lines.append(f"Reason: {appointment['reason']}")
    lines.append(f"Booked by phone with the receptionist (booking {appointment['id']}).")
    return "\n".join(lines)


def busy_spans(
    calendar_data: Iterable[str], window: Span, tz: ZoneInfo, own_uid_prefix: str
) -> list[Span]:
    """The spans within ``window`` taken by events, sorted, occurrences expanded.

    Not busy: TRANSP:TRANSPARENT ("free") events, STATUS:CANCELLED ones, instants (no end,
    no duration), and the receptionist's own events (their bookings are in the store already;
    counting them would make a booking clash with itself when moved). An all-day event takes
    its whole days in the clinic's timezone; floating times are the clinic's. A calendar
    object that cannot be read is logged and skipped: the staff's other events still count.
    """
    spans = []
    for text in calendar_data:
        try:
            spans.extend(_object_spans(text, window, tz, own_uid_prefix))
        except Exception as exc:  # whatever the libraries raise on odd data
            uid = re.search(r"^UID:(.*)$", text, re.MULTILINE)  # not the rest: it is private
            log.warning("calendar.unreadable_event", error=repr(exc), uid=uid and uid[1].strip())
    return sorted(spans)


def _object_spans(text: str, window: Span, tz: ZoneInfo, own_uid_prefix: str) -> list[Span]:
    calendar = icalendar.Calendar.from_ical(text)
    spans = []
    for event in recurring_ical_events.of(calendar).between(*window):
        if event.name != "VEVENT" or not _is_busy(event, own_uid_prefix):
            continue
        span = _span(event, tz)
        if span[0] < span[1] and span[0] < window[1] and window[0] < span[1]:
            spans.append(span)
    return spans


def _is_busy(event: icalendar.Event, own_uid_prefix: str) -> bool:
    transparency = str(event.get("transp", "OPAQUE")).upper()
    status = str(event.get("status", "CONFIRMED")).upper()
    own = str(event.get("uid", "")).startswith(f"{own_uid_prefix}-")
    return transparency != "TRANSPARENT" and status != "CANCELLED" and not own


def _span(event: icalendar.Event, tz: ZoneInfo) -> Span:
    start = event.decoded("dtstart")
    if "dtend" in event:
        end = event.decoded("dtend")
    elif "duration" in event:
        end = start + event.decoded("duration")
    else:  # RFC 5545 3.6.1: a day long for a date, an instant for a date-time
        end = start + timedelta(days=1) if not isinstance(start, datetime) else start
    return _local(start, tz), _local(end, tz)


def _local(moment: date | datetime, tz: ZoneInfo) -> datetime:
    if not isinstance(moment, datetime):  # an all-day event: midnight in the clinic
        return datetime.combine(moment, time(), tz)
    if moment.tzinfo is None:  # floating time: the clinic's wall clock
        return moment.replace(tzinfo=tz)
    return moment.astimezone(tz)
