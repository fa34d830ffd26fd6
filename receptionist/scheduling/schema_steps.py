"""The schema's numbered steps: each step's SQL for SQLite and for PostgreSQL, in order.

A step takes a database from ``version - 1`` to ``version``; migrations.py applies them. A
step is never edited once released: a change is a new step.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Step:
    version: int
    description: str
    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]


_APPOINTMENTS = Step(
    1,
    "appointments",
    sqlite=(
        # Times are UTC epoch seconds; one file holds one clinic.
        """CREATE TABLE IF NOT EXISTS appointments (
            id INTEGER PRIMARY KEY,
            start_ts INTEGER NOT NULL,
            end_ts INTEGER NOT NULL CHECK (end_ts > start_ts),
            service TEXT NOT NULL,
            name TEXT NOT NULL,
            phone TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            created_at INTEGER NOT NULL,
            cancelled_at INTEGER
        )""",
        "CREATE INDEX IF NOT EXISTS appointments_active_start"
        " ON appointments (start_ts) WHERE cancelled_at IS NULL",
        "CREATE INDEX IF NOT EXISTS appointments_phone ON appointments (phone)",
    ),
    postgres=(
        "CREATE EXTENSION IF NOT EXISTS btree_gist",
        # One database may serve several clinics. The exclusion constraint is what makes a
        # double booking impossible, whatever the number of servers: two active appointments
        # of one clinic and one resource (chair, practitioner; NULL: the clinic as a whole)
        # never overlap. Ranges are half-open, so 10:00-10:30 and 10:30-11:00 both fit.
        """CREATE TABLE IF NOT EXISTS appointments (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            clinic text NOT NULL,
            resource text,
            start_at timestamptz NOT NULL,
            end_at timestamptz NOT NULL CHECK (end_at > start_at),
            service text NOT NULL,
            name text NOT NULL,
            phone text NOT NULL,
            reason text NOT NULL DEFAULT '',
            created_at timestamptz NOT NULL,
            cancelled_at timestamptz,
            CONSTRAINT appointments_no_overlap EXCLUDE USING gist (
                clinic WITH =,
                (coalesce(resource, '')) WITH =,
                tstzrange(start_at, end_at) WITH &&
            ) WHERE (cancelled_at IS NULL)
        )""",
        "CREATE INDEX IF NOT EXISTS appointments_phone ON appointments (clinic, phone)",
    ),
)

_OUTBOX = Step(
    2,
    "outbox",
    sqlite=(
        # Outbox times are REAL epoch seconds: retry delays are fractions of a second.
        """CREATE TABLE IF NOT EXISTS outbox (
            id INTEGER PRIMARY KEY,
            topic TEXT NOT NULL,
            key TEXT NOT NULL,
            payload TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL,
            claimed_until REAL,
            done_at REAL,
            last_error TEXT,
            created_at REAL NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (topic, key, id)"
        " WHERE done_at IS NULL",
    ),
    postgres=(
        # clinic: a worker of one clinic must not take another's items from a shared database.
        """CREATE TABLE IF NOT EXISTS outbox (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            clinic text NOT NULL,
            topic text NOT NULL,
            key text NOT NULL,
            payload jsonb NOT NULL,
            attempts integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz NOT NULL,
            claimed_until timestamptz,
            done_at timestamptz,
            last_error text,
            created_at timestamptz NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (clinic, topic, key, id)"
        " WHERE done_at IS NULL",
    ),
)

_CALL_OUTCOMES = Step(
    3,
    "call outcomes",
    # How a call's stream ended, kept from the stream's end until Twilio's /call-ended
    # request, which may reach another server process. A transfer number or nothing.
    sqlite=(
        """CREATE TABLE IF NOT EXISTS call_outcomes (
            call_sid TEXT PRIMARY KEY,
            reason TEXT NOT NULL,
            transfer_to TEXT,
            recorded_at REAL NOT NULL
        )""",
    ),
    postgres=(
        """CREATE TABLE IF NOT EXISTS call_outcomes (
            call_sid text PRIMARY KEY,
            reason text NOT NULL,
            transfer_to text,
            recorded_at timestamptz NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS call_outcomes_recorded ON call_outcomes (recorded_at)",
    ),
)


_CALL_RECORDS = Step(
    4,
    "call records",
    # One row per call (receptionist/records): the columns the list pages filter and sort
    # on, and the whole record (turns, timings, barge-ins, bookings, events) as JSON.
    # Times are epoch seconds on both backends: the records code shares its SQL.
    sqlite=(
        """CREATE TABLE IF NOT EXISTS calls (
            call_sid TEXT PRIMARY KEY,
            clinic TEXT NOT NULL,
            stream_sid TEXT NOT NULL,
            caller TEXT NOT NULL DEFAULT '',
            started_at REAL NOT NULL,
            ended_at REAL NOT NULL,
            outcome TEXT NOT NULL,
            bookings INTEGER NOT NULL DEFAULT 0,
            recording TEXT NOT NULL DEFAULT '',
            detail TEXT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS calls_started ON calls (clinic, started_at)",
    ),
    postgres=(
        """CREATE TABLE IF NOT EXISTS calls (
            call_sid text PRIMARY KEY,
            clinic text NOT NULL,
            stream_sid text NOT NULL,
            caller text NOT NULL DEFAULT '',
            started_at double precision NOT NULL,
            ended_at double precision NOT NULL,
            outcome text NOT NULL,
            bookings integer NOT NULL DEFAULT 0,
            recording text NOT NULL DEFAULT '',
            detail text NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS calls_started ON calls (clinic, started_at)",
    ),
)

_CLINIC_MESSAGES = Step(
    5,
    "clinic messages",
    # Messages callers leave for the clinic's team (who, the number to call back, what
    # about, why a message rather than a person). Written with a "clinic_message" outbox
    # row in one transaction, before the caller is told it was passed on.
    sqlite=(
        """CREATE TABLE IF NOT EXISTS clinic_messages (
            id INTEGER PRIMARY KEY,
            call_sid TEXT NOT NULL,
            name TEXT NOT NULL,
            phone TEXT NOT NULL,
            about TEXT NOT NULL,
            reason TEXT NOT NULL,
            created_at REAL NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS clinic_messages_call ON clinic_messages (call_sid)",
    ),
    postgres=(
        """CREATE TABLE IF NOT EXISTS clinic_messages (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            clinic text NOT NULL,
            call_sid text NOT NULL,
            name text NOT NULL,
            phone text NOT NULL,
            about text NOT NULL,
            reason text NOT NULL,
            created_at timestamptz NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS clinic_messages_call ON clinic_messages (clinic, call_sid)",
    ),
)


_TRANSFERS = Step(
    6,
    "warm transfers",
    # A transfer's briefing is kept with the call's outcome (from the stream's end to
    # /call-ended); the transfer's progress (dialling, answered, joined, returned, ended)
    # from /call-ended to the staff leg's last status callback, which any process may get:
    # each step is one conditional UPDATE, so one process alone acts on it.
    sqlite=(
        "ALTER TABLE call_outcomes ADD COLUMN brief TEXT",
        """CREATE TABLE IF NOT EXISTS transfers (
            call_sid TEXT PRIMARY KEY,
            caller TEXT NOT NULL,
            staff_call_sid TEXT NOT NULL DEFAULT '',
            state TEXT NOT NULL,
            started_at REAL NOT NULL
        )""",
    ),
    postgres=(
        "ALTER TABLE call_outcomes ADD COLUMN IF NOT EXISTS brief text",
        """CREATE TABLE IF NOT EXISTS transfers (
            call_sid text PRIMARY KEY,
            caller text NOT NULL,
            staff_call_sid text NOT NULL DEFAULT '',
            state text NOT NULL,
            started_at timestamptz NOT NULL
        )""",
    ),
)


_PRACTITIONERS_AND_SERVERS = Step(
    7,
    "practitioners and live servers",
    # resource: the [[practitioners]] name an appointment is booked with (NULL: the clinic as
    # a whole). PostgreSQL has had the column, and the exclusion constraint over it, since
    # step 1; SQLite checks overlap per resource under its write lock.
    # servers: each server process announces itself with a short expiry (heartbeat.py), so a
    # draining one knows whether another can take its new calls.
    sqlite=(
        "ALTER TABLE appointments ADD COLUMN resource TEXT",
        """CREATE TABLE IF NOT EXISTS servers (
            server_id TEXT PRIMARY KEY,
            draining INTEGER NOT NULL,
            expires_at REAL NOT NULL
        )""",
    ),
    postgres=(
        """CREATE TABLE IF NOT EXISTS servers (
            server_id text PRIMARY KEY,
            clinic text NOT NULL,
            draining boolean NOT NULL,
            expires_at timestamptz NOT NULL
        )""",
    ),
)


_WHOLE_CLINIC_HOLDS_EVERYONE = Step(
    8,
    "an appointment with the clinic as a whole overlaps everyone's",
    # An appointment with no resource (booked before [[practitioners]] were configured, or
    # after they were all removed) is with nobody in particular: it must keep every
    # practitioner from that time, and theirs must keep a whole-clinic booking from it.
    # Step 1's constraint compared resources with '=', so neither did. A resource is now a
    # range of text: one name ('[name,name]'), or the whole clinic (unbounded: overlaps all).
    # SQLite checks the same under its write lock (sqlite_store.py).
    sqlite=(),
    postgres=(
        'CREATE TYPE appointment_resource AS RANGE (subtype = text, collation = "C")',
        """ALTER TABLE appointments DROP CONSTRAINT appointments_no_overlap,
            ADD CONSTRAINT appointments_no_overlap EXCLUDE USING gist (
                clinic WITH =,
                (CASE WHEN coalesce(resource, '') = '' THEN appointment_resource(NULL, NULL)
                      ELSE appointment_resource(resource, resource, '[]') END) WITH &&,
                tstzrange(start_at, end_at) WITH &&
            ) WHERE (cancelled_at IS NULL)""",
    ),
)


STEPS = (
    _APPOINTMENTS, _OUTBOX, _CALL_OUTCOMES, _CALL_RECORDS, _CLINIC_MESSAGES, _TRANSFERS,
    _PRACTITIONERS_AND_SERVERS, _WHOLE_CLINIC_HOLDS_EVERYONE,
)  # fmt: skip
