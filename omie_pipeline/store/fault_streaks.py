"""The misuse guard's consecutive-fault counts, kept in the store so that every process of an app
key adds to the same count, as Omie does (one count per app key and method, whoever calls).

`StoredFaultStreaks` is the `StreakLedger` the Omie client takes (omie/misuse.py); it is matched by
shape, so the store does not import the client.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from omie_pipeline.store import Store
from omie_pipeline.store.tables import omie_fault_streaks as streaks


class StoredFaultStreaks:
    """Fault streaks of one app key in one store. A success writes only when the last look at the
    method saw a streak, so the usual call costs one small read."""

    def __init__(self, store: Store, app_key: str) -> None:
        self.store = store
        self.app_key = str(app_key)
        self._seen: dict[str, int] = {}  # method -> streak at the last look (a hint; the store decides)

    def _where(self, method: str):
        return sa.and_(streaks.c.app_key == self.app_key, streaks.c.method == method)

    def paused_until(self, method: str) -> float | None:
        with self.store.connect() as connection:
            row = connection.execute(
                sa.select(streaks.c.streak, streaks.c.paused_until).where(self._where(method))
            ).first()
        self._seen[method] = row.streak if row is not None else 0
        return row.paused_until.timestamp() if row is not None and row.paused_until is not None else None

    def fault(self, method: str, limit: int, pause_seconds: float) -> None:
        now = datetime.now(UTC)
        with self.store.begin() as connection:
            counted = connection.execute(
                sa.update(streaks).where(self._where(method)).values(streak=streaks.c.streak + 1, updated_at=now)
            ).rowcount
            if not counted:
                try:
                    with connection.begin_nested():
                        connection.execute(
                            sa.insert(streaks).values(app_key=self.app_key, method=method, streak=1, updated_at=now)
                        )
                except sa.exc.IntegrityError:  # another process counted the first fault meanwhile
                    connection.execute(
                        sa.update(streaks)
                        .where(self._where(method))
                        .values(streak=streaks.c.streak + 1, updated_at=now)
                    )
            streak = connection.execute(sa.select(streaks.c.streak).where(self._where(method))).scalar_one()
            if streak >= limit:
                connection.execute(
                    sa.update(streaks)
                    .where(self._where(method))
                    .values(streak=0, paused_until=now + timedelta(seconds=pause_seconds))
                )
        self._seen[method] = streak

    def success(self, method: str) -> None:
        if not self._seen.get(method, 1):
            return
        with self.store.begin() as connection:
            connection.execute(
                sa.update(streaks)
                .where(self._where(method), streaks.c.streak > 0)
                .values(streak=0, updated_at=datetime.now(UTC))
            )
        self._seen[method] = 0
