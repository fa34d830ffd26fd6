"""Messages callers leave for the clinic, on each backend: the message and its
"clinic_message" outbox row are written together, or not at all."""

from __future__ import annotations

from receptionist.scheduling.messages import LeaveMessage, MessageReason, RejectReason
from receptionist.scheduling.outbox import CLINIC_MESSAGE_TOPIC
from receptionist.scheduling.store import AppointmentStore
from tests.helpers.clinic import PHONE, query, reason_of

MESSAGE = LeaveMessage(1, "CA1", " Jane Doe ", "(555) 123-4567", "my test results ",
                       MessageReason.TRANSFER_UNANSWERED)  # fmt: skip


def test_a_message_is_kept_with_its_outbox_row(store: AppointmentStore) -> None:
    message_id = store.save_message(MESSAGE)
    assert isinstance(message_id, int)
    (item,) = store.outbox_claim(CLINIC_MESSAGE_TOPIC, limit=10, lease_s=60)
    assert item.key == f"clinic_message:{message_id}"
    payload = dict(item.payload["message"])
    assert payload.pop("created_at")  # ISO 8601, the outbox clock's
    assert payload == {
        "id": message_id,
        "call_sid": "CA1",
        "name": "Jane Doe",
        "phone": PHONE,
        "about": "my test results",
        "reason": "transfer_unanswered",
    }


def test_a_message_without_a_number_to_call_back_is_refused(store: AppointmentStore) -> None:
    refused = store.save_message(LeaveMessage(1, "CA1", "Jane", "12", "hi", MessageReason.ASKED))
    assert reason_of(refused) is RejectReason.INVALID
    assert store.outbox_waiting(CLINIC_MESSAGE_TOPIC) == 0


def test_the_message_row_is_what_the_team_reads(store: AppointmentStore, database: str) -> None:
    message_id = store.save_message(MESSAGE)
    columns = "call_sid, name, phone, about, reason"
    rows = query(database, f"SELECT {columns} FROM clinic_messages WHERE id = {message_id}")
    assert rows == [("CA1", "Jane Doe", PHONE, "my test results", "transfer_unanswered")]
