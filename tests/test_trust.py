"""Trust, below the handlers: usernames belong to one account, ADMIN_IDS is only the
bootstrap list, names shown to staff carry no bidi controls, both engines hide bound
parameters."""

from __future__ import annotations

from bot.i18n import Translator, strip_bidi
from db.database import Database
from db.repo import Repos
from handlers.staff.common import clip, name_label


async def seen(repo: Repos, user_id: int, username: str | None) -> None:
    await repo.users.upsert_seen(user_id, first_name="X", username=username, language_code="en")


async def test_a_username_belongs_to_the_latest_account(any_db: Database) -> None:
    repo = Repos.create(any_db)
    await seen(repo, 1, "Olga_K")
    await seen(repo, 2, "olga_k")  # the username changed hands
    found = await repo.users.find_by_username("@olga_k")
    assert found is not None and found.id == 2
    old = await repo.users.get(1)
    assert old is not None and old.username is None
    await seen(repo, 1, "olga_k")  # and back again
    found = await repo.users.find_by_username("olga_k")
    assert found is not None and found.id == 1


async def test_admin_ids_is_only_the_bootstrap_list(any_db: Database) -> None:
    repo = Repos.create(any_db)
    for uid in (1, 2, 3, 4):
        await seen(repo, uid, None)
    await repo.staff.ensure_admins(frozenset({1, 2}))
    await repo.staff.set_role(1, 3, "admin")  # granted by an admin in the bot
    await repo.staff.set_role(1, 4, "staff")
    assert await repo.staff.demote_unlisted_admins(frozenset({1, 2})) == ()
    # 2 is taken out of ADMIN_IDS: the next start-up removes the role it gave.
    assert await repo.staff.demote_unlisted_admins(frozenset({1})) == (2,)
    roles = {m.user_id: m.role for m in await repo.staff.list()}
    assert roles == {1: "admin", 3: "admin", 4: "staff"}
    # An ADMIN_IDS admin whom another admin also granted the role keeps it.
    await repo.staff.set_role(3, 1, "admin")
    assert await repo.staff.demote_unlisted_admins(frozenset()) == ()


async def test_both_engines_hide_bound_parameters(any_db: Database) -> None:
    assert any_db.engine.sync_engine.hide_parameters is True


def test_bidi_controls_never_reach_staff() -> None:
    spoof = "Aida\u202e\u2066kaz\u2069\u200f"
    assert strip_bidi(spoof) == "Aidakaz"
    assert name_label(spoof, "aida", 1) == "Aidakaz @aida"
    assert clip(spoof, 40) == "Aidakaz"
    t = Translator(default_locale="en").bind("en")
    assert "\u202e" not in t("team-added", who=spoof, role="x")
    assert "\u202e" not in t.plain("team-added", who=spoof, role="x")


async def test_erasure_matches_form_state_exactly_and_scrubs_free_text(
    any_db: Database,
) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import select

    from db.models import AuditLog, FsmState
    from tests.factories import make_catalogue, make_users

    repo = Repos.create(any_db)
    cat = await make_catalogue(any_db)
    await make_users(any_db, [7, 12, 900])
    now = datetime(2026, 11, 20, tzinfo=UTC)
    outcome = await repo.applications.submit(
        user_id=12,
        course_id=cat.course_id,
        group_id=None,
        full_name="Aida Serikova",
        phone="+77010000012",
        district_id=None,
        consent_at=now,
        source=None,
    )
    app_id = outcome.application.id
    reason = "Aida was rude on the phone"
    await repo.applications.decide(app_id, actor_id=900, action="reject", reason=reason)
    async with any_db.transaction() as s:
        for key in (
            "1:12:12:::default",  # user 12's own form
            "1:-100:7:12::default",  # user 7 in thread 12 of a group: '%:12:%' matches it
            "1:12:7:::default",  # user 7 in chat 12
        ):
            s.add(FsmState(key=key, state="SignUp:phone", data={"full_name": "x"}, updated_at=now))

    await repo.users.erase(12)

    async with any_db.read() as s:
        keys = set(await s.scalars(select(FsmState.key)))
        entries = (await s.scalars(select(AuditLog))).all()
    assert keys == {"1:-100:7:12::default", "1:12:7:::default"}
    about = [e for e in entries if e.target_type == "application" and e.target_id == str(app_id)]
    assert about, "the decision stays in the audit log (who decided, when)"
    for entry in about:
        assert reason not in repr((entry.before, entry.after))
    assert any((e.after or {}).get("status") == "rejected" for e in about)
