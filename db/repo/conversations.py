"""Conversations: a citizen's questions to a centre and staff's answers (issue 12)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.database import Database
from db.models import CentreFaq, Conversation, ConversationMessage, Delivery

TEXT_KEPT = 1000  # characters of a message's text or caption kept for the person card


@dataclass(frozen=True, slots=True)
class ConversationDTO:
    id: int
    user_id: int
    centre_id: int | None
    status: str
    created_at: datetime
    waiting_since: datetime | None
    last_in_at: datetime | None
    answered_by: int | None
    answered_at: datetime | None
    closed_by: int | None
    closed_at: datetime | None
    staff_chat_id: int | None
    card_message_id: int | None

    @property
    def is_open(self) -> bool:
        return self.status == "open"


@dataclass(frozen=True, slots=True)
class ConversationMessageDTO:
    id: int
    conversation_id: int
    direction: str
    author_id: int | None
    kind: str
    text: str | None
    source_chat_id: int | None
    source_message_id: int | None
    staff_chat_id: int | None
    staff_message_id: int | None
    at: datetime


@dataclass(frozen=True, slots=True)
class FaqDTO:
    id: int
    centre_id: int
    question: dict[str, str]
    answer: dict[str, str]


def _conversation(c: Conversation | Row[Any]) -> ConversationDTO:
    return ConversationDTO(
        id=c.id,
        user_id=c.user_id,
        centre_id=c.centre_id,
        status=c.status,
        created_at=c.created_at,
        waiting_since=c.waiting_since,
        last_in_at=c.last_in_at,
        answered_by=c.answered_by,
        answered_at=c.answered_at,
        closed_by=c.closed_by,
        closed_at=c.closed_at,
        staff_chat_id=c.staff_chat_id,
        card_message_id=c.card_message_id,
    )


def _message(m: ConversationMessage) -> ConversationMessageDTO:
    return ConversationMessageDTO(
        id=m.id,
        conversation_id=m.conversation_id,
        direction=m.direction,
        author_id=m.author_id,
        kind=m.kind,
        text=m.text,
        source_chat_id=m.source_chat_id,
        source_message_id=m.source_message_id,
        staff_chat_id=m.staff_chat_id,
        staff_message_id=m.staff_message_id,
        at=m.at,
    )


def _centre_filter(centre_ids: Collection[int] | None) -> list[Any]:
    """None: every centre (a programme admin); otherwise only those centres."""
    if centre_ids is None:
        return []
    return [Conversation.centre_id.in_(list(centre_ids))]


class ConversationRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ---- reading -----------------------------------------------------------------------

    async def get(self, conversation_id: int) -> ConversationDTO | None:
        async with self.db.read() as s:
            row = await s.get(Conversation, conversation_id)
            return _conversation(row) if row else None

    async def open_for(self, user_id: int, centre_id: int) -> ConversationDTO | None:
        async with self.db.read() as s:
            row = await s.scalar(
                select(Conversation).where(
                    Conversation.user_id == user_id,
                    Conversation.centre_id == centre_id,
                    Conversation.status == "open",
                )
            )
            return _conversation(row) if row else None

    async def latest_open(self, user_id: int) -> ConversationDTO | None:
        """The person's open conversation they wrote in last (follow-ups attach to it)."""
        async with self.db.read() as s:
            row = await s.scalar(
                select(Conversation)
                .where(Conversation.user_id == user_id, Conversation.status == "open")
                .order_by(Conversation.last_in_at.desc(), Conversation.id.desc())
                .limit(1)
            )
            return _conversation(row) if row else None

    async def for_user(self, user_id: int) -> list[tuple[ConversationDTO, int]]:
        """Every conversation of a person, newest first, with its number of messages."""
        counted = (
            select(ConversationMessage.conversation_id, func.count().label("n"))
            .where(ConversationMessage.direction.in_(("in", "out")))
            .group_by(ConversationMessage.conversation_id)
            .subquery()
        )
        async with self.db.read() as s:
            rows = await s.execute(
                select(Conversation, func.coalesce(counted.c.n, 0))
                .outerjoin(counted, counted.c.conversation_id == Conversation.id)
                .where(Conversation.user_id == user_id)
                .order_by(Conversation.created_at.desc(), Conversation.id.desc())
            )
            return [(_conversation(c), int(n)) for c, n in rows]

    async def by_staff_message(self, chat_id: int, message_id: int) -> ConversationDTO | None:
        """The conversation a message staff see belongs to (the card, a copy, a prompt)."""
        async with self.db.read() as s:
            row = await s.scalar(
                select(Conversation)
                .join(ConversationMessage, ConversationMessage.conversation_id == Conversation.id)
                .where(
                    ConversationMessage.staff_chat_id == chat_id,
                    ConversationMessage.staff_message_id == message_id,
                )
                .limit(1)
            )
            return _conversation(row) if row else None

    async def messages(
        self, conversation_id: int, *, limit: int = 50
    ) -> list[ConversationMessageDTO]:
        """What was said (``in`` and ``out``), oldest first; the last ``limit`` of it."""
        async with self.db.read() as s:
            rows = await s.scalars(
                select(ConversationMessage)
                .where(
                    ConversationMessage.conversation_id == conversation_id,
                    ConversationMessage.direction.in_(("in", "out")),
                )
                .order_by(ConversationMessage.at.desc(), ConversationMessage.id.desc())
                .limit(limit)
            )
            return [_message(m) for m in reversed(list(rows))]

    async def counts(self, conversation_id: int) -> tuple[int, int]:
        """(messages from the citizen, answers from staff)."""
        async with self.db.read() as s:
            rows = await s.execute(
                select(ConversationMessage.direction, func.count())
                .where(
                    ConversationMessage.conversation_id == conversation_id,
                    ConversationMessage.direction.in_(("in", "out")),
                )
                .group_by(ConversationMessage.direction)
            )
            found = {str(d): int(n) for d, n in rows.all()}
            return found.get("in", 0), found.get("out", 0)

    async def incoming_since(self, conversation_id: int, since: datetime) -> list[datetime]:
        """When the citizen wrote in this conversation since ``since``, oldest first."""
        async with self.db.read() as s:
            rows = await s.scalars(
                select(ConversationMessage.at)
                .where(
                    ConversationMessage.conversation_id == conversation_id,
                    ConversationMessage.direction == "in",
                    ConversationMessage.at >= since,
                )
                .order_by(ConversationMessage.at)
            )
            return list(rows)

    async def inbox(
        self, centre_ids: Collection[int] | None, *, limit: int = 10, offset: int = 0
    ) -> tuple[list[ConversationDTO], int]:
        """Open conversations of these centres: the longest-waiting unanswered first, then
        the answered ones, least recently active first."""
        conditions = [Conversation.status == "open", *_centre_filter(centre_ids)]
        async with self.db.read() as s:
            total = await s.scalar(
                select(func.count()).select_from(Conversation).where(*conditions)
            )
            rows = await s.scalars(
                select(Conversation)
                .where(*conditions)
                .order_by(
                    Conversation.waiting_since.is_(None),
                    Conversation.waiting_since,
                    Conversation.last_in_at,
                    Conversation.id,
                )
                .limit(limit)
                .offset(offset)
            )
            return [_conversation(c) for c in rows], int(total or 0)

    async def unanswered_before(
        self, centre_id: int | None, cutoff: datetime
    ) -> list[ConversationDTO]:
        """Open conversations of a centre waiting for an answer since before ``cutoff``."""
        async with self.db.read() as s:
            rows = await s.scalars(
                select(Conversation)
                .where(
                    Conversation.status == "open",
                    Conversation.centre_id == centre_id,
                    Conversation.waiting_since.is_not(None),
                    Conversation.waiting_since < cutoff,
                )
                .order_by(Conversation.waiting_since)
            )
            return [_conversation(c) for c in rows]

    # ---- writing -----------------------------------------------------------------------

    async def start(self, user_id: int, centre_id: int, now: datetime) -> ConversationDTO:
        """The person's open conversation with the centre: the one there is, or a new one."""
        async with self.db.transaction() as s:
            row = await s.scalar(
                select(Conversation).where(
                    Conversation.user_id == user_id,
                    Conversation.centre_id == centre_id,
                    Conversation.status == "open",
                )
            )
            if row is None:
                row = Conversation(
                    user_id=user_id, centre_id=centre_id, status="open", created_at=now
                )
                s.add(row)
                await s.flush()
            return _conversation(row)

    async def add_message(
        self,
        conversation_id: int,
        direction: str,
        *,
        now: datetime,
        author_id: int | None = None,
        kind: str = "text",
        text: str | None = None,
        source: tuple[int, int] | None = None,
        staff: tuple[int, int] | None = None,
    ) -> int:
        """Record one message. ``in`` makes the conversation wait for an answer (if it was
        not already); ``out`` answers it (by ``author_id``, now)."""
        async with self.db.transaction() as s:
            return await self.write_message(
                s,
                conversation_id,
                direction,
                now=now,
                author_id=author_id,
                kind=kind,
                text=text,
                source=source,
                staff=staff,
            )

    async def write_message(
        self,
        s: AsyncSession,
        conversation_id: int,
        direction: str,
        *,
        now: datetime,
        author_id: int | None = None,
        kind: str = "text",
        text: str | None = None,
        source: tuple[int, int] | None = None,
        staff: tuple[int, int] | None = None,
    ) -> int:
        """``add_message`` inside the caller's transaction (a staff answer: with its
        deliveries, ``DeliveryRepo.enqueue(rows, also=...)``)."""
        message = ConversationMessage(
            conversation_id=conversation_id,
            direction=direction,
            author_id=author_id,
            kind=kind,
            text=text[:TEXT_KEPT] if text else None,
            source_chat_id=source[0] if source else None,
            source_message_id=source[1] if source else None,
            staff_chat_id=staff[0] if staff else None,
            staff_message_id=staff[1] if staff else None,
            at=now,
        )
        s.add(message)
        if direction == "in":
            await s.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id)
                .values(
                    last_in_at=now,
                    waiting_since=func.coalesce(Conversation.waiting_since, now),
                )
            )
        elif direction == "out":
            await s.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id)
                .values(answered_by=author_id, answered_at=now, waiting_since=None)
            )
        await s.flush()
        return message.id

    async def link_staff_message(
        self, message_id: int, staff_chat_id: int, staff_message_id: int
    ) -> None:
        """Where staff see a recorded message (its copy was posted after it was stored)."""
        async with self.db.transaction() as s:
            await s.execute(
                update(ConversationMessage)
                .where(ConversationMessage.id == message_id)
                .values(staff_chat_id=staff_chat_id, staff_message_id=staff_message_id)
            )

    async def set_card(self, conversation_id: int, chat_id: int, message_id: int) -> None:
        async with self.db.transaction() as s:
            await s.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id)
                .values(staff_chat_id=chat_id, card_message_id=message_id)
            )
            s.add(
                ConversationMessage(
                    conversation_id=conversation_id,
                    direction="card",
                    kind="card",
                    staff_chat_id=chat_id,
                    staff_message_id=message_id,
                )
            )

    async def close(self, conversation_id: int, actor_id: int, now: datetime) -> bool:
        """Close an open conversation; False if it was closed already (or is gone)."""
        async with self.db.transaction() as s:
            result = await s.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id, Conversation.status == "open")
                .values(status="closed", closed_by=actor_id, closed_at=now, waiting_since=None)
            )
            return bool(getattr(result, "rowcount", 0))

    async def reopen(self, conversation_id: int) -> bool:
        """Open a closed conversation again; False if it is open, gone, or the person has
        another open conversation with the centre by now (one at a time)."""
        async with self.db.transaction() as s:
            row = await s.get(Conversation, conversation_id)
            if row is None or row.status != "closed":
                return False
            other = await s.scalar(
                select(Conversation.id).where(
                    Conversation.user_id == row.user_id,
                    Conversation.centre_id == row.centre_id,
                    Conversation.status == "open",
                )
            )
            if other is not None:
                return False
            row.status = "open"
            row.closed_by = None
            row.closed_at = None
            return True

    async def erase_user(self, user_id: int) -> int:
        """Delete every conversation of a person and what was said; returns how many."""
        async with self.db.transaction() as s:
            ids = list(
                await s.scalars(select(Conversation.id).where(Conversation.user_id == user_id))
            )
            if ids:
                await s.execute(
                    delete(ConversationMessage).where(ConversationMessage.conversation_id.in_(ids))
                )
                await s.execute(delete(Conversation).where(Conversation.id.in_(ids)))
            return len(ids)

    async def delete_closed_before(self, cutoff: datetime) -> int:
        """Forget conversations closed before ``cutoff`` (kept only as long as needed)."""
        async with self.db.transaction() as s:
            ids = list(
                await s.scalars(
                    select(Conversation.id).where(
                        Conversation.status == "closed", Conversation.closed_at < cutoff
                    )
                )
            )
            if ids:
                await s.execute(
                    delete(ConversationMessage).where(ConversationMessage.conversation_id.in_(ids))
                )
                await s.execute(delete(Conversation).where(Conversation.id.in_(ids)))
            return len(ids)

    # ---- the centres' FAQ ----------------------------------------------------------------

    async def faq(self, centre_id: int) -> list[FaqDTO]:
        async with self.db.read() as s:
            rows = await s.scalars(
                select(CentreFaq)
                .where(CentreFaq.centre_id == centre_id)
                .order_by(CentreFaq.sort, CentreFaq.id)
            )
            return [FaqDTO(r.id, r.centre_id, r.question, r.answer) for r in rows]

    async def faq_item(self, faq_id: int) -> FaqDTO | None:
        async with self.db.read() as s:
            r = await s.get(CentreFaq, faq_id)
            return FaqDTO(r.id, r.centre_id, r.question, r.answer) if r else None

    async def replace_faq(
        self, centre_id: int, items: Sequence[tuple[dict[str, str], dict[str, str]]]
    ) -> None:
        async with self.db.transaction() as s:
            await s.execute(delete(CentreFaq).where(CentreFaq.centre_id == centre_id))
            for sort, (question, answer) in enumerate(items):
                s.add(CentreFaq(centre_id=centre_id, question=question, answer=answer, sort=sort))

    async def reply_payloads(self, delivery_ids: Collection[int]) -> list[dict[str, Any]]:
        """The payloads of staff answers (deliveries of kind ``reply``) among these rows."""
        if not delivery_ids:
            return []
        async with self.db.read() as s:
            rows = await s.scalars(
                select(Delivery.payload).where(
                    Delivery.id.in_(list(delivery_ids)), Delivery.kind == "reply"
                )
            )
            return [dict(p) for p in rows]

    async def centres_with_open(self, user_id: int) -> list[int]:
        async with self.db.read() as s:
            rows = await s.scalars(
                select(Conversation.centre_id).where(
                    and_(Conversation.user_id == user_id, Conversation.status == "open")
                )
            )
            return [c for c in rows if c is not None]


__all__ = [
    "ConversationDTO",
    "ConversationMessageDTO",
    "ConversationRepo",
    "FaqDTO",
]
