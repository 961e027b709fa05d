"""Centres as the unit of work: their staff chats and their contacts."""

from __future__ import annotations

from sqlalchemy import delete, select

from db.database import Database
from db.dto import CentreChatDTO, CentreContacts
from db.models import Centre, CentreChat
from db.repo.audit import add_audit
from db.repo.memo import TableMemo


def chat_dto(c: CentreChat) -> CentreChatDTO:
    return CentreChatDTO(c.centre_id, c.chat_id, c.title, c.bound_by, c.bound_at)


class CentreRepo:
    def __init__(self, db: Database, *, memo_ttl: float | None = None) -> None:
        """``memo_ttl`` (long polling): a centre's staff chat, looked up for every new
        application's card, is kept in memory (``TableMemo``)."""
        self.db = db
        self._chat_memo: TableMemo[CentreChatDTO | None] | None = (
            TableMemo(db, ("centre_chats",), memo_ttl) if memo_ttl is not None else None
        )

    # ---- staff chats --------------------------------------------------------------

    async def chats(self) -> list[CentreChatDTO]:
        async with self.db.read() as s:
            rows = await s.scalars(select(CentreChat).order_by(CentreChat.centre_id))
            return [chat_dto(c) for c in rows]

    async def chat_of(self, centre_id: int) -> CentreChatDTO | None:
        if self._chat_memo is not None:
            return await self._chat_memo.get(centre_id, lambda: self._read_chat_of(centre_id))
        return await self._read_chat_of(centre_id)

    async def _read_chat_of(self, centre_id: int) -> CentreChatDTO | None:
        async with self.db.read() as s:
            row = await s.get(CentreChat, centre_id)
            return chat_dto(row) if row else None

    async def centres_of_chat(self, chat_id: int) -> list[int]:
        """The centres whose staff chat this is (empty: not a bound staff chat)."""
        async with self.db.read() as s:
            rows = await s.scalars(
                select(CentreChat.centre_id)
                .where(CentreChat.chat_id == chat_id)
                .order_by(CentreChat.centre_id)
            )
            return list(rows)

    async def bind_chat(
        self, actor_id: int, centre_id: int, chat_id: int, title: str | None
    ) -> int | None:
        """Make ``chat_id`` the centre's staff chat; returns the chat it replaced."""
        async with self.db.transaction() as s:
            row = await s.get(CentreChat, centre_id)
            before = row.chat_id if row else None
            if row is None:
                s.add(
                    CentreChat(
                        centre_id=centre_id,
                        chat_id=chat_id,
                        title=(title or "")[:128] or None,
                        bound_by=actor_id,
                    )
                )
            else:
                row.chat_id = chat_id
                row.title = (title or "")[:128] or None
                row.bound_by = actor_id
            add_audit(
                s,
                actor_id,
                "centre.chat",
                "centre",
                centre_id,
                {"chat_id": before} if before is not None else None,
                {"chat_id": chat_id},
                centre_id=centre_id,
            )
            return before

    async def unbind_chat(self, actor_id: int, centre_id: int) -> int | None:
        async with self.db.transaction() as s:
            row = await s.get(CentreChat, centre_id)
            if row is None:
                return None
            before = row.chat_id
            await s.delete(row)
            add_audit(
                s,
                actor_id,
                "centre.chat",
                "centre",
                centre_id,
                {"chat_id": before},
                None,
                centre_id=centre_id,
            )
            return before

    async def forget_chat(self, chat_id: int) -> list[int]:
        """The bot left or was removed from a chat: it is nobody's staff chat any more
        (its centres fall back to STAFF_CHAT_ID). Returns the centres it served."""
        async with self.db.transaction() as s:
            centres = list(
                await s.scalars(select(CentreChat.centre_id).where(CentreChat.chat_id == chat_id))
            )
            if centres:
                await s.execute(delete(CentreChat).where(CentreChat.chat_id == chat_id))
                for centre_id in centres:
                    add_audit(
                        s,
                        0,
                        "centre.chat",
                        "centre",
                        centre_id,
                        {"chat_id": chat_id},
                        None,
                        centre_id=centre_id,
                    )
            return centres

    # ---- contacts -----------------------------------------------------------------

    async def set_contacts(
        self, actor_id: int, centre_id: int, contacts: CentreContacts
    ) -> CentreContacts | None:
        """Replace a centre's contacts; returns the previous ones (None: no such centre)."""
        async with self.db.transaction() as s:
            row = await s.get(Centre, centre_id)
            if row is None:
                return None
            before = CentreContacts.from_json(row.contacts)
            row.contacts = contacts.to_json()
            add_audit(
                s,
                actor_id,
                "centre.contacts",
                "centre",
                centre_id,
                before.to_json(),
                contacts.to_json(),
                centre_id=centre_id,
            )
            return before
