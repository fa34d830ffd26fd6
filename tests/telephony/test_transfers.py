"""A warm transfer's TwiML and the meaning of its status callbacks, without I/O."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from receptionist.telephony import transfers as tt

CALLER_SID = "CA" + "1" * 32
STAFF_SID = "CA" + "2" * 32


@pytest.mark.parametrize(
    ("params", "move"),
    [
        ({"CallSid": STAFF_SID, "CallStatus": "in-progress"}, tt.Move((tt.DIALLING,), tt.ANSWERED)),
        ({"CallSid": STAFF_SID, "CallStatus": "busy"},
         tt.Move(tt.WAITING, tt.RETURNED, tt.Then.BRING_BACK)),
        ({"CallSid": STAFF_SID, "CallStatus": "no-answer"},
         tt.Move(tt.WAITING, tt.RETURNED, tt.Then.BRING_BACK)),
        # Staff who hang up during the briefing never joined: the caller comes back.
        ({"CallSid": STAFF_SID, "CallStatus": "completed"},
         tt.Move(tt.WAITING, tt.RETURNED, tt.Then.BRING_BACK)),
        ({"CallSid": STAFF_SID, "StatusCallbackEvent": "participant-join"},
         tt.Move(tt.WAITING, tt.JOINED)),
        ({"CallSid": CALLER_SID, "StatusCallbackEvent": "participant-leave"},
         tt.Move(tt.WAITING, tt.ENDED, tt.Then.HANG_UP_STAFF)),
        ({"CallSid": CALLER_SID, "StatusCallbackEvent": "participant-join"}, None),
        ({"CallSid": STAFF_SID, "StatusCallbackEvent": "participant-leave"}, None),
        ({"CallSid": STAFF_SID, "CallStatus": "ringing"}, None),
        ({"CallSid": CALLER_SID, "CallStatus": "completed"}, None),
    ],
)  # fmt: skip
def test_status_callbacks_move_the_transfer(params: dict[str, str], move: tt.Move | None) -> None:
    assert tt.on_status_callback(params, CALLER_SID) == move


def test_a_joined_or_returned_transfer_is_never_moved_by_a_late_callback() -> None:
    late = tt.on_status_callback({"CallSid": STAFF_SID, "CallStatus": "completed"}, CALLER_SID)
    assert late is not None
    assert tt.JOINED not in late.from_states
    assert tt.RETURNED not in late.from_states


def test_the_caller_waits_on_hold_until_staff_join() -> None:
    twiml = tt.caller_waits_twiml(
        "transfer-CA1", status_callback="https://x.test/transfer-status?call=CA1",
        hold_music_url="https://x.test/hold.mp3",
    )  # fmt: skip
    conference = ElementTree.fromstring(twiml).find("Dial/Conference")
    assert conference is not None
    assert conference.text == "transfer-CA1"
    assert conference.attrib == {
        "startConferenceOnEnter": "false", "endConferenceOnExit": "true", "beep": "false",
        "statusCallback": "https://x.test/transfer-status?call=CA1",
        "statusCallbackEvent": "join leave", "waitUrl": "https://x.test/hold.mp3",
    }  # fmt: skip


def test_staff_hear_the_briefing_then_join() -> None:
    root = ElementTree.fromstring(tt.staff_joins_twiml("transfer-CA1", "Maria Garcia & co"))
    assert [child.tag for child in root] == ["Say", "Dial"]
    assert root.findtext("Say") == "Maria Garcia & co"
    assert root.findtext("Dial/Conference") == "transfer-CA1"


def test_the_status_callback_url_names_the_callers_call() -> None:
    url = tt.status_callback_url("https://x.test", "CA1")
    assert url == "https://x.test/transfer-status?call=CA1"
