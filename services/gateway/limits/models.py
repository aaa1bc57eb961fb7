"""The login throttle table: failed sign-ins per account, shared by every gateway replica."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.gateway.db import Base


class LoginThrottle(Base):
    """Failed sign-ins of one username (lower-cased, whether or not such an account exists)."""

    __tablename__ = "login_throttle"

    username: Mapped[str] = mapped_column(String(100), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    first_failure_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_failure_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
