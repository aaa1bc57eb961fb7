"""The directory read model: who is who, kept by every domain service in its own schema.

The gateway owns people, schools, partners, guardian links and consents and publishes each
change (shared/events/contracts/identity.py). A service keeps its own copy, so "is this
student in this coordinator's school", "is this user a guardian of that child", "what grade
is she in" are answered by its own database, not by a call to the gateway on every request.

Wiring a service (the four domain services do exactly this)::

    # services/courses/db.py
    directory = Directory(SCHEMA, Base.metadata)
    # services/courses/events.py
    consumers = [directory.consumer]
    # services/courses/app.py
    create_service_app(..., directory=directory)
    # a migration of services/courses
    create_directory_tables("courses")

`create_service_app` then serves the directory's routes (`GET /directory/students`, ...),
loads the read model from the gateway on first start (shared/directory/sync.py), and hands
routes `request.app.state.directory`. The questions (shared/directory/queries.py)::

    await directory.school_of(session, student_id)
    await directory.consent_holds(session, student_id, "participation")
    stmt = select(Registration).where(directory.visible(principal, Registration.student_id))
"""

from __future__ import annotations

from functools import cached_property

from sqlalchemy import MetaData

from shared.directory.queries import DirectoryQueries
from shared.directory.tables import DirectoryTables, create_directory_tables, directory_tables, drop_directory_tables

__all__ = ["Directory", "DirectoryTables", "create_directory_tables", "drop_directory_tables", "directory_tables"]


class Directory(DirectoryQueries):
    """One service's read model: its tables, its consumer, its questions."""

    def __init__(self, schema: str, metadata: MetaData) -> None:
        if metadata.schema != schema:
            raise ValueError(f"the directory's tables go in {schema!r}, the metadata's schema is {metadata.schema!r}")
        super().__init__(directory_tables(metadata))
        self.schema = schema

    @cached_property
    def consumer(self):
        """The event consumer that keeps the tables current (`<schema>.directory`)."""
        from shared.directory.sync import make_consumer

        return make_consumer(self)
