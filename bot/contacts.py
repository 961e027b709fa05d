"""A centre's contacts as people read them (HTML lines, in the reader's language)."""

from __future__ import annotations

from bot.i18n import BoundTranslator
from db.dto import CentreDTO


def phones_text(centre: CentreDTO) -> str:
    return ", ".join(centre.contacts.phones)


def contacts_lines(t: BoundTranslator, centre: CentreDTO, *, full: bool = True) -> list[str]:
    """The centre's contacts: every field given (``full``), or the phones and hours only
    (course cards, notices). Empty when the centre gives none. A demo catalogue's
    placeholders say so."""
    c = centre.contacts
    lines: list[str] = []
    if c.phones:
        lines.append(t("contacts-phones", phones=phones_text(centre)))
    if c.hours:
        lines.append(t("contacts-hours", hours=t.pick(c.hours)))
    if full:
        if c.person:
            lines.append(t("contacts-person", person=t.pick(c.person)))
        if c.map_url:
            lines.append(t("contacts-map", url=c.map_url))
        if c.website:
            lines.append(t("contacts-website", url=c.website))
        if c.instagram:
            lines.append(t("contacts-instagram", handle=c.instagram))
        if c.telegram:
            lines.append(t("contacts-telegram", handle=c.telegram))
    if lines and c.demo:
        lines.append(t("contacts-demo"))
    return lines


def contacts_block(t: BoundTranslator, centre: CentreDTO, *, full: bool = True) -> str:
    """The contacts under a title, or "" when there are none."""
    lines = contacts_lines(t, centre, full=full)
    if not lines:
        return ""
    return "\n".join([t("contacts-title", centre=t.pick(centre.name)), *lines])
