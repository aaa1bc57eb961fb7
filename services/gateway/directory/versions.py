"""Directory versions: the number each published record carries, from one sequence, stored on its row.

`directory_version` orders the changes of one record for the read models (see
shared/events/contracts/identity.py). It is taken with `nextval` after the row's write is
flushed, by an UPDATE of that row: the row is locked by then, so of two transactions
changing one record the one that commits later takes its number later and gets the larger
one (the import's new rows, which nobody else can change before it commits, take theirs as
they are written: publisher.versioned). 0 is a row the directory has never published (none of the gateway's own writes leaves
one; the snapshot skips them). It is not `user_account.version`, the ETag, which counts
the API's changes of the whole row, personal data included.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Sequence, text
from sqlalchemy.orm import MappedColumn, mapped_column

SEQUENCE = Sequence("directory_version", schema="gateway")


def version_column() -> MappedColumn[int]:
    """The `directory_version` of a table the directory publishes."""
    return mapped_column(BigInteger, default=0, server_default=text("0"))


def next_version():
    """`nextval('gateway.directory_version')`, for an UPDATE's SET or a SELECT."""
    return SEQUENCE.next_value()
