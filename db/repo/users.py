from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Table, bindparam, delete, func, or_, select, update

from db.database import Database
from db.dto import StaffScope, UserDTO
from db.models import (
    Application,
    Attendance,
    Conversation,
    ConversationMessage,
    Delivery,
    FsmState,
    FunnelEvent,
    Staff,
    StaffCentre,
    User,
    utcnow,
)
from db.repo.audit import scrub_person

_USERS: Table = User.__table__  # type: ignore[assignment]
_STAFF: Table = Staff.__table__  # type: ignore[assignment]
_GRANTS: Table = StaffCentre.__table__  # type: ignore[assignment]

# The user, their staff role and their centres in one query: one row per granted centre
# (one row for everyone else), so scoping costs no extra query per update.
_USER_WITH_SCOPE = (
    select(
        _USERS,
        _STAFF.c.role.label("staff_role"),
        _GRANTS.c.centre_id.label("grant_centre"),
        _GRANTS.c.role.label("grant_role"),
    )
    .select_from(_USERS)
    .outerjoin(_STAFF, _STAFF.c.user_id == _USERS.c.id)
    .outerjoin(_GRANTS, _GRANTS.c.user_id == _USERS.c.id)
)
# The per-update lookup, built once (``{"user_id": ...}``): building it per call costs
# more than SQLAlchemy's cached run of it.
_USER_BY_ID = _USER_WITH_SCOPE.where(_USERS.c.id == bindparam("user_id"))


def form_state_user(key: str) -> int | None:
    """The user id of a form-state key (bot:chat:user:thread:business:destiny)."""
    parts = key.split(":")
    try:
        return int(parts[2])
    except (IndexError, ValueError):
        return None


def scope_of(rows: Sequence[Row[Any]]) -> StaffScope | None:
    """The staff scope in the rows of ``_USER_WITH_SCOPE`` (None: not staff)."""
    role = rows[0].staff_role if rows else None
    if role is None:
        return None
    centres = frozenset(r.grant_centre for r in rows if r.grant_centre is not None)
    managed = frozenset(r.grant_centre for r in rows if r.grant_role == "manager")
    return StaffScope(role, centres, managed)


def user_dto(u: User | Row[Any], staff: StaffScope | None = None) -> UserDTO:
    return UserDTO(
        id=u.id,
        locale=u.locale,
        language_code=u.language_code,
        first_name=u.first_name,
        username=u.username,
        is_active=u.is_active,
        reminders_enabled=u.reminders_enabled,
        source=u.source,
        consent_at=u.consent_at,
        created_at=u.created_at,
        staff=staff,
    )


# Tables whose writes may change what a cached user record says about its staff role and
# reach (issue 11 adds the centre grants): any write to them empties the cache.
STAFF_TABLES = ("staff", "staff_centres")
APPLICATION_TABLES = ("applications",)


class UserCache:
    """The per-update user record, kept in this process for ``ttl`` seconds.

    Only where this process is the only consumer of the updates (long polling): the
    record a user's update needs is then read from memory, not the database. Every write
    through ``UserRepo`` drops the user's entry; any write to the staff tables (a role or
    a centre granted or taken away, by any repository) empties the whole cache, so a
    cached record may carry the staff member's reach and lose it at once. ``ttl`` bounds
    what a change made by another process (a command-line import, a second process on
    the same file) can leave stale.
    """

    def __init__(
        self,
        db: Database,
        *,
        ttl: float = 60.0,
        size: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self._entries: OrderedDict[int, tuple[float, UserDTO]] = OrderedDict()
        # Staff roles (None: not staff), looked up for the main menu and every staff
        # handler; same lifetime rules as the records.
        self._roles: dict[int, tuple[float, str | None]] = {}
        self._staff_generation = db.changes.generation(STAFF_TABLES)
        # Users known to have no application (read empty, none submitted since): a new
        # citizen's catalogue and sign-up steps look for their applications five times
        # per sign-up. Applications are created only by ``ApplicationRepo.submit``, for
        # the user whose update this process handles, and it drops the mark first.
        self._no_applications: dict[int, float] = {}
        self.hits = 0
        self.misses = 0

    def _check_staff_tables(self) -> None:
        generation = self.db.changes.generation(STAFF_TABLES)
        if generation != self._staff_generation:
            self._entries.clear()
            self._roles.clear()
            self._staff_generation = generation

    def role(self, user_id: int) -> tuple[bool, str | None]:
        """(known, role) of a cached staff lookup, else of the cached user record (read
        with the staff tables joined, or created in this process: nobody's staff yet)."""
        self._check_staff_tables()
        now = self.clock()
        entry = self._roles.get(user_id)
        if entry is not None and now - entry[0] <= self.ttl:
            return True, entry[1]
        record = self._entries.get(user_id)
        if record is not None and now - record[0] <= self.ttl:
            staff = record[1].staff
            return True, staff.role if staff is not None else None
        return False, None

    def put_role(self, user_id: int, role: str | None, generation: int) -> None:
        """Remember a role read when the staff tables were at ``generation``."""
        self._check_staff_tables()
        if generation != self._staff_generation:
            return  # the staff tables changed while it was being read
        if len(self._roles) >= self.size:
            self._roles.clear()
        self._roles[user_id] = (self.clock(), role)

    def get(self, user_id: int) -> UserDTO | None:
        self._check_staff_tables()
        entry = self._entries.get(user_id)
        if entry is None or self.clock() - entry[0] > self.ttl:
            self.misses += 1
            return None
        self.hits += 1
        return entry[1]

    def put(self, user: UserDTO) -> None:
        self._entries[user.id] = (self.clock(), user)
        self._entries.move_to_end(user.id)
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def peek(self, user_id: int) -> UserDTO | None:
        entry = self._entries.get(user_id)
        return entry[1] if entry is not None else None

    def drop(self, user_id: int) -> None:
        self._entries.pop(user_id, None)

    def refresh(self, user_id: int, **fields: Any) -> None:
        """A write changed these fields of the user's row: the cached record says so too."""
        entry = self._entries.get(user_id)
        if entry is not None:
            self._entries[user_id] = (entry[0], replace(entry[1], **fields))

    def has_no_applications(self, user_id: int) -> bool:
        """True if the user is known to have no application (within ``ttl``)."""
        stamp = self._no_applications.get(user_id)
        return stamp is not None and self.clock() - stamp <= self.ttl

    def put_no_applications(self, user_id: int, generation: int) -> None:
        """Remember that the user had no application, read when the applications table
        was at ``generation`` (ignored if any application was written meanwhile)."""
        if self.db.changes.generation(APPLICATION_TABLES) != generation:
            return
        if len(self._no_applications) >= self.size:
            self._no_applications.clear()
        self._no_applications[user_id] = self.clock()

    def drop_no_applications(self, user_id: int) -> None:
        self._no_applications.pop(user_id, None)


class UserRepo:
    def __init__(self, db: Database, cache: UserCache | None = None) -> None:
        self.db = db
        self.cache = cache

    def _changed(self, user_id: int, **fields: Any) -> None:
        """Keep the cached record true after a write: the changed fields, or drop it."""
        if self.cache is None:
            return
        cached = self.cache.peek(user_id) if fields else None
        if cached is None:
            self.cache.drop(user_id)
        else:
            self.cache.put(replace(cached, **fields))

    async def _created_row_written(self, user_id: int) -> None:
        """A user created in this update is a deferred write: write it before reading."""
        if self.db.is_deferred(("user", user_id)):
            await self.db.flush()

    async def get(self, user_id: int) -> UserDTO | None:
        await self._created_row_written(user_id)
        async with self.db.read() as s:
            row = await s.get(User, user_id)
            return user_dto(row) if row else None

    async def with_scope(self, user_id: int) -> UserDTO | None:
        """The user with their staff scope (as the per-update context loads it)."""
        await self._created_row_written(user_id)
        async with self.db.read_core() as conn:
            rows = (await conn.execute(_USER_BY_ID, {"user_id": user_id})).all()
            return user_dto(rows[0], scope_of(rows)) if rows else None

    async def upsert_seen(
        self,
        user_id: int,
        *,
        first_name: str | None,
        username: str | None,
        language_code: str | None,
    ) -> tuple[UserDTO, bool]:
        """Create the user on first contact or refresh their Telegram profile fields.

        Returns the user and whether they were created now. Writes only when something
        changed, so the common case is one primary-key read.
        """
        username = username.lower() if username else None
        profile = (first_name, username, language_code, True)
        cached = self.cache.get(user_id) if self.cache is not None else None
        if (
            cached is not None
            and (
                cached.first_name,
                cached.username,
                cached.language_code,
                cached.is_active,
            )
            == profile
        ):
            return cached, False
        # A Core primary-key read (with the staff scope joined), no ORM session.
        generation = self.db.changes.generation(APPLICATION_TABLES)
        async with self.db.read_core() as conn:
            rows = (await conn.execute(_USER_BY_ID, {"user_id": user_id})).all()
            seen = rows[0] if rows else None
            if (
                seen is not None
                and (
                    seen.first_name,
                    seen.username,
                    seen.language_code,
                    seen.is_active,
                )
                == profile
            ):
                user = user_dto(seen, scope_of(rows))
                if self.cache is not None:
                    self.cache.put(user)
                return user, False
        staff = scope_of(rows)
        self._changed(user_id)
        profile_values = {
            "first_name": first_name,
            "username": username,
            "language_code": language_code,
            # A user who writes to the bot has evidently not blocked it.
            "is_active": True,
        }
        if seen is None and self.db.deferring():
            # A person's first update, under a unit of work: the new row is written with
            # the update's other writes (its form state, the language chosen), before
            # the first reply, in one transaction instead of two.
            user = self._create_deferred(user_id, profile_values)
            self._no_row_no_applications(user_id, generation)
            return user, True
        # Core, not the ORM: a person's first update creates them, on every sign-up.
        async with self.db.transaction_core() as conn:
            if username is not None and (seen is None or seen.username != username):
                # A username belongs to one account: the newest sighting takes it from an
                # old row (Telegram lets people give usernames away), so "add @name" can
                # never find a stale account.
                await conn.execute(
                    update(_USERS)
                    .where(_USERS.c.username == username, _USERS.c.id != user_id)
                    .values(username=None)
                )
            row = None
            if seen is None:
                row = (
                    await conn.execute(
                        self.db.insert(_USERS)
                        .values(id=user_id, reminders_enabled=True, **profile_values)
                        .on_conflict_do_nothing(index_elements=[_USERS.c.id])
                        .returning(*_USERS.c)
                    )
                ).first()
            created = row is not None
            if row is None:  # known, or created meanwhile by another process
                row = (
                    await conn.execute(
                        update(_USERS)
                        .where(_USERS.c.id == user_id)
                        .values(**profile_values)
                        .returning(*_USERS.c)
                    )
                ).one()
            user = user_dto(row, None if created else staff)
        if self.cache is not None:
            self.cache.put(user)
        if seen is None:
            self._no_row_no_applications(user_id, generation)
        return user, created

    def _no_row_no_applications(self, user_id: int, generation: int) -> None:
        """The user had no row when read (at ``generation`` of the applications table),
        so no application either (each belongs to a person's row): their first steps
        need not look for any."""
        if self.cache is not None:
            self.cache.put_no_applications(user_id, generation)

    def _create_deferred(self, user_id: int, profile: dict[str, Any]) -> UserDTO:
        """Defer the INSERT of a new user (and the username takeover) and return the
        record it writes. A transaction opened later in the update runs them first, so
        any write that refers to the user finds the row; nothing reads the row itself
        before the update's first Bot API request (which writes it) or its end."""
        now = utcnow()
        username = profile["username"]
        if username is not None:
            self.db.defer(
                update(_USERS)
                .where(_USERS.c.username == username, _USERS.c.id != user_id)
                .values(username=None)
            )
        self.db.defer(
            self.db.insert(_USERS)
            .values(id=user_id, reminders_enabled=True, created_at=now, updated_at=now, **profile)
            # Created meanwhile by another process: theirs stands.
            .on_conflict_do_nothing(index_elements=[_USERS.c.id]),
            key=("user", user_id),  # get() and with_scope() write it before reading
        )
        user = UserDTO(
            id=user_id,
            locale=None,
            language_code=profile["language_code"],
            first_name=profile["first_name"],
            username=username,
            is_active=True,
            reminders_enabled=True,
            source=None,
            consent_at=None,
            created_at=now,
        )
        if self.cache is not None:
            self.cache.put(user)
        return user

    async def set_locale(self, user_id: int, locale: str) -> None:
        """Written with the update's other writes (``Database.write``); this process's
        cached record says it at once."""
        await self.db.write(update(_USERS).where(_USERS.c.id == user_id).values(locale=locale))
        self._changed(user_id, locale=locale)

    async def set_source_if_empty(self, user_id: int, source: str) -> None:
        self._changed(user_id)
        async with self.db.transaction() as s:
            await s.execute(
                update(User)
                .where(User.id == user_id, User.source.is_(None))
                .values(source=source[:64])
            )

    async def set_consent(self, user_id: int, at: datetime) -> None:
        """Written with the update's other writes, as set_locale."""
        await self.db.write(update(_USERS).where(_USERS.c.id == user_id).values(consent_at=at))
        self._changed(user_id, consent_at=at)

    async def set_active(self, user_id: int, active: bool) -> None:
        async with self.db.transaction() as s:
            await s.execute(update(User).where(User.id == user_id).values(is_active=active))
        self._changed(user_id, is_active=active)

    async def set_reminders(self, user_id: int, enabled: bool) -> None:
        async with self.db.transaction() as s:
            await s.execute(
                update(User).where(User.id == user_id).values(reminders_enabled=enabled)
            )
        self._changed(user_id, reminders_enabled=enabled)

    async def find_by_username(self, username: str) -> UserDTO | None:
        async with self.db.read() as s:
            row = await s.scalar(select(User).where(User.username == username.lstrip("@").lower()))
            return user_dto(row) if row else None

    async def count(self, *, active_only: bool = False) -> int:
        async with self.db.read() as s:
            query = select(func.count()).select_from(User)
            if active_only:
                query = query.where(User.is_active.is_(True))
            return int(await s.scalar(query) or 0)

    async def erase(self, user_id: int) -> None:
        """Delete everything stored about a user (their right to erasure).

        Live applications must have been cancelled first (the enrolment service does it,
        so freed seats go to the waitlist).
        """
        self._changed(user_id)
        async with self.db.transaction() as s:
            app_ids = list(
                await s.scalars(select(Application.id).where(Application.user_id == user_id))
            )
            await scrub_person(s, user_id, app_ids)
            await s.execute(delete(Application).where(Application.user_id == user_id))
            await s.execute(delete(Attendance).where(Attendance.user_id == user_id))
            # Their questions and staff's answers (copies in staff chats stay: README).
            talks = select(Conversation.id).where(Conversation.user_id == user_id)
            await s.execute(
                delete(ConversationMessage).where(ConversationMessage.conversation_id.in_(talks))
            )
            await s.execute(delete(Conversation).where(Conversation.user_id == user_id))
            await s.execute(
                delete(Delivery).where(
                    Delivery.user_id == user_id,
                    # Staff's answers carry what was said: gone whatever their status.
                    or_(Delivery.status.in_(("pending", "failed")), Delivery.kind == "reply"),
                )
            )
            await s.execute(delete(FunnelEvent).where(FunnelEvent.user_id == user_id))
            # Form state keys are bot:chat:user:thread:business:destiny; LIKE only narrows
            # the search ('%:12:%' also matches user 7 in chat 12), the user part decides.
            keys = await s.scalars(select(FsmState.key).where(FsmState.key.like(f"%:{user_id}:%")))
            mine = [key for key in keys if form_state_user(key) == user_id]
            if mine:
                await s.execute(delete(FsmState).where(FsmState.key.in_(mine)))
            await s.execute(delete(StaffCentre).where(StaffCentre.user_id == user_id))
            await s.execute(delete(Staff).where(Staff.user_id == user_id))
            await s.execute(delete(User).where(User.id == user_id))
