"""The sandbox's fixed cast: four citizens (one per language), a coordinator, the staff
group. Ids are stable, so a sandbox database kept under data/sandbox/ stays consistent
from one run to the next."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

STAFF_CHAT_ID: Final = -1_002_000_000_001
STAFF_CHAT_TITLE: Final = "Staff · applications"
# The second staff persona's centre and its own staff chat: she sees only that centre.
CENTRE_MANAGER_CENTRE: Final = "naryn-pl87"
CENTRE_CHAT_ID: Final = -1_002_000_000_002
CENTRE_CHAT_TITLE: Final = "Naryn lyceum No. 87 · staff"


@dataclass(frozen=True, slots=True)
class Persona:
    """A simulated Telegram user the page can act as."""

    key: str
    user_id: int
    first_name: str
    last_name: str
    language_code: str
    role: Literal["citizen", "staff"]
    phone: str  # what the "share my contact" button sends (E.164)
    username: str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True, slots=True)
class ChatView:
    """One chat on the page: who acts in it and which Telegram chat it is."""

    key: str
    title: str
    persona: Persona
    chat_id: int
    kind: Literal["private", "group"]

    def as_json(self) -> dict[str, Any]:
        persona = self.persona
        return {
            "key": self.key,
            "title": self.title,
            "kind": self.kind,
            "chat_id": self.chat_id,
            "persona": {
                "key": persona.key,
                "user_id": persona.user_id,
                "name": persona.full_name,
                "first_name": persona.first_name,
                "language_code": persona.language_code,
                "role": persona.role,
                "phone": persona.phone,
            },
        }


AIDA: Final = Persona("aida", 710_001, "Аида", "Серікова", "kk", "citizen", "+77011234567")
BAKYT: Final = Persona("bakyt", 710_002, "Бакыт", "Асанов", "ky", "citizen", "+996555123456")
OLGA: Final = Persona("olga", 710_003, "Ольга", "Петрова", "ru", "citizen", "+77015554433")
JOHN: Final = Persona("john", 710_004, "John", "Miller", "en", "citizen", "+996700112233")
COORDINATOR: Final = Persona(
    "coordinator", 790_001, "Dana", "Omarova", "ru", "staff", "+77017001122", "dana_coord"
)
# A centre manager of one lyceum (Naryn), not a programme admin: the boundary made visible.
ASEL: Final = Persona(
    "asel", 790_002, "Асель", "Токтогулова", "ky", "staff", "+996700000002", "asel_naryn"
)
# The programme admin stays last (ADMIN_IDS in the sandbox).
PERSONAS: Final[tuple[Persona, ...]] = (AIDA, BAKYT, OLGA, JOHN, ASEL, COORDINATOR)

CHATS: Final[tuple[ChatView, ...]] = (
    *(ChatView(p.key, p.full_name, p, p.user_id, "private") for p in PERSONAS),
    ChatView("naryn-staff", CENTRE_CHAT_TITLE, ASEL, CENTRE_CHAT_ID, "group"),
    ChatView("staff", STAFF_CHAT_TITLE, COORDINATOR, STAFF_CHAT_ID, "group"),
)
CHATS_BY_KEY: Final = {chat.key: chat for chat in CHATS}
