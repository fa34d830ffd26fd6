"""Numbers stored before E.164 ('+' and the digits keyed) rewritten with the clinic's
country, on both backends; ``receptionist db upgrade`` runs it (issue 10)."""

from __future__ import annotations

import pytest

from receptionist.cli import main
from receptionist.config import load_config
from receptionist.scheduling.messages import Appointment
from receptionist.scheduling.phone_migration import stored_to_e164
from receptionist.scheduling.store import AppointmentStore
from tests.helpers.clinic import PHONE, TUESDAY, Clock, at, database_environ, query
from tests.helpers.paths import PROJECT_ROOT


@pytest.mark.parametrize(
    ("stored", "region", "e164"),
    [
        ("+5551234567", "US", "+15551234567"),  # keyed "555 123 4567" before E.164
        ("+15551234567", "US", "+15551234567"),  # Twilio's caller ID: already right
        ("+12125551234", "GB", "+12125551234"),  # a valid international number stays
        ("+07700900123", "GB", "+447700900123"),  # keyed "07700 900123" in a UK clinic
        ("+447700900123", "US", "+447700900123"),  # not a US number: kept international
        ("+1", "US", ""),  # no number in any reading
    ],
)
def test_stored_numbers_to_e164(stored: str, region: str, e164: str) -> None:
    assert stored_to_e164(stored, region) == e164


def book(store: AppointmentStore, times: list[str]) -> list[int]:
    booked = [store.book("check-up", at(TUESDAY, hhmm), "Jo", PHONE) for hhmm in times]
    assert all(isinstance(b, Appointment) for b in booked)
    return [b.id for b in booked if isinstance(b, Appointment)]


def test_old_numbers_are_rewritten_once(store: AppointmentStore, database: str) -> None:
    keyed, caller_id, cancelled, broken = book(store, ["10:00", "10:30", "11:00", "11:30"])
    assert isinstance(store.cancel(cancelled, PHONE), Appointment)
    old = {keyed: "+5551234567", caller_id: PHONE, cancelled: "+5551234567", broken: "+1"}
    for appointment_id, phone in old.items():  # as releases before E.164 wrote them
        query(database, f"UPDATE appointments SET phone = '{phone}' WHERE id = {appointment_id}")
    assert [a.id for a in store.find_bookings(PHONE)] == [caller_id]

    migration = store.normalise_phones()

    assert (migration.changed, migration.left) == (2, ("+1",))
    assert [a.id for a in store.find_bookings(PHONE)] == [keyed, caller_id]
    rows = dict(query(database, "SELECT id, phone FROM appointments"))
    assert rows == {keyed: PHONE, caller_id: PHONE, cancelled: PHONE, broken: "+1"}
    again = store.normalise_phones()
    assert (again.changed, again.left) == (0, ("+1",))


def test_db_upgrade_rewrites_the_numbers(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    settings = [f"scheduler.database={database}"]
    config = load_config(PROJECT_ROOT / "config.toml", settings, environ=database_environ())
    with AppointmentStore(config, now=Clock(at(TUESDAY, "08:00"))) as store:
        (keyed,) = book(store, ["10:00"])  # the command's clinic (PostgreSQL holds several)
    query(database, f"UPDATE appointments SET phone = '+5551234567' WHERE id = {keyed}")
    command = ["--config", str(PROJECT_ROOT / "config.toml"), "db", "upgrade", "--set", *settings]
    assert main(command) == 0
    assert main(command) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == f"{database}: 1 phone numbers rewritten in E.164 (US)"
    assert lines[3] == f"{database}: 0 phone numbers rewritten in E.164 (US)"
    assert query(database, f"SELECT phone FROM appointments WHERE id = {keyed}") == [(PHONE,)]
