"""How a person's personal data is stored: encrypted and bound to its row and column, with blind indexes.

The one place that turns an ID number, phone or address into what `user_account` holds, for a
user changed through the API and for thousands sealed at once by an import's worker process.
Values arrive already checked and normalised (`validation.py`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from shared import crypto
from shared.crypto import FieldCipher


def aad(user_id: uuid.UUID, column: str) -> bytes:
    """Binds a ciphertext to its row and column of `user_account`: copied elsewhere, it does not decrypt."""
    return crypto.aad("user_account", column, user_id)


def seal_id_number(cipher: FieldCipher, user_id: uuid.UUID, number: str) -> tuple[bytes, str]:
    """(ciphertext, blind index) of a checked resident ID number."""
    return cipher.encrypt(number.encode(), aad=aad(user_id, "id_number")), cipher.blind_index(number)


def seal_phone(cipher: FieldCipher, user_id: uuid.UUID, phone: str) -> tuple[bytes, str]:
    """(ciphertext, blind index) of a normalised phone number."""
    return cipher.encrypt(phone.encode(), aad=aad(user_id, "phone")), cipher.blind_index(phone, purpose="phone")


def seal_address(cipher: FieldCipher, user_id: uuid.UUID, address: str) -> bytes:
    return cipher.encrypt(address.strip().encode(), aad=aad(user_id, "address"))


@dataclass(frozen=True)
class Sealed:
    """A new account's personal data as stored, bound to its id `id`."""

    id: uuid.UUID
    id_number_cipher: bytes | None = None
    id_number_index: str | None = None
    phone_cipher: bytes | None = None
    phone_index: str | None = None
    address_cipher: bytes | None = None


def seal(cipher: FieldCipher, *, id_number: str | None = None, phone: str | None = None, address: str | None = None) -> Sealed:
    """A new account id and its personal data sealed to it."""
    user_id = uuid.uuid4()
    id_number_cipher, id_number_index = seal_id_number(cipher, user_id, id_number) if id_number else (None, None)
    phone_cipher, phone_index = seal_phone(cipher, user_id, phone) if phone else (None, None)
    return Sealed(
        id=user_id, id_number_cipher=id_number_cipher, id_number_index=id_number_index, phone_cipher=phone_cipher,
        phone_index=phone_index, address_cipher=seal_address(cipher, user_id, address) if address else None,
    )
