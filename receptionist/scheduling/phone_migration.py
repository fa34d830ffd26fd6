"""Stored phone numbers to E.164: rows written before numbers were normalised by country.

Releases before E.164 stored a number as '+' and its digits, whatever was keyed or heard:
a national "555 123 4567" became "+5551234567", which never matches Twilio's caller ID
"+15551234567". Which country a national number belongs to is the clinic's
(``[clinic] country``), so this is not a schema step: a migration's SQL cannot know it, and
one PostgreSQL database may hold clinics of several countries. ``receptionist db upgrade``
runs it after the schema steps (and ``receptionist db normalise-phones`` alone); it is
idempotent: a second run finds nothing to change.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

from receptionist.scheduling.backend import Transaction
from receptionist.scheduling.slots import normalise_phone


@dataclass(frozen=True, slots=True)
class PhoneMigration:
    changed: int
    """Rows rewritten in E.164."""
    left: tuple[str, ...]
    """Numbers that are no phone number in any reading, left as they were."""


def stored_to_e164(stored: str, region: str) -> str:
    """The E.164 form of a number stored by any release; '' when it cannot be one.

    A valid international number stays as it is; otherwise the digits are read as a
    national number of ``region``, and failing that a possible international number stays.
    """
    try:
        international = phonenumbers.parse(stored, None)
    except phonenumbers.NumberParseException:
        international = None
    if international is not None and phonenumbers.is_valid_number(international):
        return phonenumbers.format_number(international, phonenumbers.PhoneNumberFormat.E164)
    national = normalise_phone(stored.lstrip("+"), region)
    if national:
        return national
    if international is not None and phonenumbers.is_possible_number(international):
        return phonenumbers.format_number(international, phonenumbers.PhoneNumberFormat.E164)
    return ""


def normalise_phones(tx: Transaction, region: str) -> PhoneMigration:
    """Rewrite this clinic's appointments' numbers (cancelled ones too) in E.164."""
    changed, left = 0, []
    for appointment_id, stored in tx.phones():
        e164 = stored_to_e164(stored, region)
        if not e164:
            left.append(stored)
        elif e164 != stored:
            tx.set_phone(appointment_id, e164)
            changed += 1
    return PhoneMigration(changed, tuple(left))
