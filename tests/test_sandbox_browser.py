"""The sandbox's web chat in a real headless browser (Debian's chromium via Playwright).

People drive the page here as a coordinator or a translator would: click, type, read.
Every wait is on page state (Playwright's auto-waiting ``expect``), never on the clock.
Screenshots of the steps go to a temporary folder; with ``UPDATE_SCREENSHOTS=1`` they
replace the README's in docs/screenshots/ (a test run leaves the checkout as it was).
"""

from __future__ import annotations

import asyncio
import io
import math
import os
import re
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import PROJECT_ROOT, load_settings
from bot.i18n import LANGUAGE_NAMES, Translator, pick_text
from sandbox.web import Sandbox, SandboxServer
from sandbox.web.personas import AIDA, JOHN

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IN_CI = os.environ.get("CI", "").lower() == "true"
DESKTOP = {"width": 1180, "height": 760}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 15_000
TOAST_MS = 3_000  # how long a toast stays (app.js)


def need_browser() -> None:
    """Outside CI a missing chromium or Playwright skips with the reason; in CI it fails."""
    problem = None
    if shutil.which(CHROMIUM) is None:
        problem = (
            f"Debian's chromium is not installed at {CHROMIUM} "
            "(scripts/test.sh installs it: apt-get install chromium)"
        )
    else:
        try:
            import playwright.async_api  # noqa: F401
        except ImportError:
            problem = "Playwright for Python is not installed (pip install '.[dev]')"
    if problem is None:
        return
    if IN_CI:
        pytest.fail(problem + " — CI must run the browser tests")
    pytest.skip(problem)


@dataclass
class World:
    sandbox: Sandbox
    server: SandboxServer
    browser: Any
    pages: list[tuple[Any, list[str]]] = field(default_factory=list)

    @property
    def translator(self) -> Translator:
        process = self.sandbox.process
        assert process is not None and process.app is not None
        return process.app.translator

    def label(self, locale: str, key: str, **params: Any) -> str:
        return self.translator.plain(locale, key, **params)

    def text(self, locale: str, key: str, **params: Any) -> str:
        """The start of a message as shown: up to its first parameter, tags removed."""
        from sandbox.telegram import parse_html

        sentinel = "\ue000"
        names = dict.fromkeys(_placeholders(self.translator, locale, key), sentinel)
        names.update(params)
        shown = parse_html(self.translator.get(locale, key, **names)).text
        return shown.split(sentinel)[0].strip()[:40]

    async def page(
        self, viewport: dict[str, int] = DESKTOP, *, phone: bool = False, locale: str = "en-GB"
    ) -> Any:
        context = await self.browser.new_context(
            viewport=viewport,
            device_scale_factor=1,
            is_mobile=phone,
            has_touch=phone,
            locale=locale,
            timezone_id="Asia/Almaty",
            accept_downloads=True,
        )
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on(
            "console",
            lambda msg: errors.append(msg.text) if msg.type == "error" else None,
        )
        await page.goto(self.server.url + "/")
        from playwright.async_api import expect

        await expect(page.locator("body")).to_have_attribute("data-ready", "true")
        self.pages.append((page, errors))
        return page


def _placeholders(translator: Translator, locale: str, key: str) -> set[str]:
    from bot.i18n import placeholders

    message = translator.catalogs[locale].messages.get(key)
    return placeholders(message) if isinstance(message, str) else set()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    need_browser()
    from playwright.async_api import async_playwright

    settings = load_settings({"THROTTLE_RATE": "0"})
    async with Sandbox(settings, data_dir=tmp_path / "sandbox") as sandbox:
        server = SandboxServer(sandbox, host="127.0.0.1", port=0)
        await server.start()
        try:
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
                )
                world = World(sandbox, server, browser)
                try:
                    yield world
                finally:
                    for _, errors in world.pages:
                        assert errors == [], errors
                    await browser.close()
        finally:
            await server.stop()


# ---- driving the page -------------------------------------------------------------------


def exact(text: str) -> re.Pattern[str]:
    return re.compile(rf"^\s*{re.escape(text)}\s*$")


async def open_chat(page: Any, key: str) -> None:
    from playwright.async_api import expect

    if await page.locator("#back").is_visible():
        await page.locator("#back").click()
    await page.locator(f'.chat-item[data-key="{key}"]').click()
    await expect(page.locator("#chat")).to_have_attribute("data-chat", key)
    await expect(page.locator(f'.chat-item[data-key="{key}"]')).to_have_attribute(
        "aria-current", "true"
    )


async def bot_says(page: Any, text: str) -> Any:
    """The newest bot message showing ``text``; waits until there is one."""
    from playwright.async_api import expect

    bubble = page.locator("#messages .msg-in").filter(has_text=text).last
    await expect(bubble).to_be_visible()
    return bubble


async def press(page: Any, label: str) -> None:
    """Press the inline button ``label`` on the newest message that shows it."""
    await page.locator("#messages .inline-button").filter(has_text=exact(label)).last.click()


async def tap(page: Any, label: str) -> None:
    """Tap a reply keyboard button."""
    await page.locator("#reply-keyboard .reply-button").filter(has_text=exact(label)).click()


async def say(page: Any, text: str) -> None:
    from playwright.async_api import expect

    await page.locator("#input").fill(text)
    await page.locator("#input").press("Enter")
    await expect(page.locator("#messages .msg-out").last).to_contain_text(text)


def shots_dir() -> Path:
    """docs/screenshots with UPDATE_SCREENSHOTS=1, else a folder under the temp dir."""
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        return PROJECT_ROOT / "docs" / "screenshots"
    return Path(tempfile.gettempdir()) / "sandbox-screenshots"


async def shot(page: Any, name: str) -> None:
    folder = shots_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    await page.screenshot(path=str(path), animations="disabled", caret="hide")
    assert path.stat().st_size < 300_000, f"{path.name} is {path.stat().st_size} bytes"


# ---- the scenarios ----------------------------------------------------------------------


async def sign_up_in_kazakh(world: World, page: Any) -> None:
    """Aida (Telegram in Kazakh) opens the bot and signs up for the first Taraz course."""
    from playwright.async_api import expect

    kk = "kk"
    repo = world.sandbox.process.app.repo  # type: ignore[union-attr]
    centre = (await repo.catalogue.centres())[0]
    course = (await repo.catalogue.courses(centre.id))[0]
    districts = await repo.catalogue.districts(centre.region_id)

    await open_chat(page, "aida")
    # A new chat: the bot's description and the Start button, as in Telegram.
    await expect(page.locator("#messages .intro")).to_contain_text(
        world.label(kk, "bot-description")[:30]
    )
    await page.locator("#start-button").click()
    await bot_says(page, "Choose your language")
    await press(page, f"✓ {LANGUAGE_NAMES[kk]}")
    await expect(page.locator("#toasts")).to_contain_text(world.label(kk, "language-set"))
    await bot_says(page, world.text(kk, "start-welcome"))
    await expect(page.locator("#messages .msg-in").first).to_contain_text(
        world.text(kk, "language-current")
    )
    await expect(page.locator("#messages .msg-in").first.locator(".edited")).to_be_visible()

    await tap(page, world.label(kk, "menu-catalogue"))
    await bot_says(page, world.text(kk, "catalogue-choose-centre"))
    await press(
        page,
        world.label(
            kk,
            "catalogue-centre-button",
            name=pick_text(centre.name, kk),
            city=pick_text(centre.city, kk),
        ),
    )
    await press(page, f"🟢 {pick_text(course.title, kk)}")
    await bot_says(page, pick_text(course.description, kk)[:40])
    # Where is it? A venue, shown as a map link.
    await press(page, world.label(kk, "course-location"))
    place = page.locator("#messages .msg-in .place").last
    await expect(place).to_have_attribute(
        "href", re.compile(r"^https://www\.openstreetmap\.org/\?mlat=-?\d+\.\d+&mlon=-?\d+\.\d+")
    )

    await press(page, world.label(kk, "course-signup"))
    await bot_says(page, world.text(kk, "signup-consent-notice", centre="", days=30)[:12])
    await press(page, world.label(kk, "signup-consent-agree"))
    await bot_says(page, world.text(kk, "signup-ask-phone")[:20])
    # The contact button shares Aida's own number, and her name: no name question.
    await tap(page, world.label(kk, "signup-share-phone"))
    await expect(page.locator("#messages .msg-out .contact").last).to_contain_text(AIDA.phone)
    await bot_says(page, world.text(kk, "signup-name-from-contact", name="Серікова Аида"))
    await bot_says(page, world.text(kk, "signup-ask-district")[:15])
    await press(page, pick_text(districts[1].name, kk))
    await bot_says(page, world.text(kk, "signup-ask-group")[:15])
    await press(page, world.label(kk, "signup-any-group"))
    summary = page.locator("#messages .inline-button").filter(
        has_text=exact(world.label(kk, "signup-confirm"))
    )
    await expect(summary.last).to_be_visible()
    await shot(page, "sandbox-1-signup-kazakh")
    await press(page, world.label(kk, "signup-confirm"))
    await bot_says(page, world.text(kk, "signup-done", id=1)[:25])


async def test_citizen_signs_up_in_kazakh_and_staff_accepts(world: World) -> None:
    from playwright.async_api import expect

    started = time.monotonic()
    page = await world.page()
    load = await page.evaluate(
        "() => performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"
    )
    assert load < 3000, f"the page took {load:.0f} ms to load"
    # From here the page's timers run on Playwright's clock: real time, which the test
    # moves on (a toast's three seconds) instead of waiting for it.
    await page.clock.install()
    await sign_up_in_kazakh(world, page)
    apps = await world.sandbox.process.app.repo.applications.for_user(AIDA.user_id)  # type: ignore[union-attr]
    assert [a.status for a in apps] == ["pending"]

    # The application arrives in the staff group (in the bot's default language).
    ru = world.sandbox.settings.default_locale  # type: ignore[union-attr]
    await open_chat(page, "staff")
    card = await bot_says(page, "Серікова Аида")
    await expect(card).to_contain_text(AIDA.phone)

    # The coordinator accepts it there: the card is redrawn, a toast confirms.
    await press(page, world.label(ru, "staff-btn-accept"))
    await expect(card.locator(".edited")).to_be_visible()
    await expect(page.locator("#toasts .toast")).to_have_count(1)
    await expect(page.locator('.chat-item[data-key="aida"] .badge')).to_have_text("1")
    await shot(page, "sandbox-2-staff-chat")
    await page.clock.fast_forward(TOAST_MS)
    await expect(page.locator("#toasts .toast")).to_have_count(0)

    # Aida sees the decision in her chat, in Kazakh.
    await open_chat(page, "aida")
    await bot_says(page, world.text("kk", "notice-accepted", id=apps[0].id))
    await shot(page, "sandbox-3-decision-kazakh")
    repo = world.sandbox.process.app.repo  # type: ignore[union-attr]
    apps = await repo.applications.for_user(AIDA.user_id)
    assert [a.status for a in apps] == ["accepted"] and apps[0].group_id is not None

    # Aida asks a question; the coordinator answers by replying to its card (↩).
    await say(page, "Сабақ қай кабинетте?")
    await press(page, world.label("kk", "support-btn-send"))
    await open_chat(page, "staff")
    question = await bot_says(page, "Сабақ қай кабинетте?")
    await question.locator(".reply-action").click()
    await expect(page.locator("#reply-bar")).to_be_visible()
    await say(page, "№ 204 кабинет")
    await expect(page.locator("#reply-bar")).to_be_hidden()
    await open_chat(page, "aida")
    await bot_says(page, "№ 204 кабинет")

    # The clock control: move the bot's time past "24 hours before her next class" (one
    # still more than a day away: the sandbox runs on the real date, the demo on fixed
    # dates); the class reminder fires in Aida's chat, in Kazakh.
    clock = world.sandbox.clock
    [first] = await repo.catalogue.sessions(
        [apps[0].group_id], since=clock.now() + timedelta(hours=25), limit=1
    )
    minutes = math.ceil(
        (first.starts_at - clock.now() - timedelta(hours=24)) / timedelta(minutes=1)
    )
    reminder = world.text("kk", "reminder-text")
    await expect(page.locator("#messages .msg-in").filter(has_text=reminder)).to_have_count(0)
    await page.locator("#clock-amount").fill(str(minutes + 5))
    await page.locator("#clock-unit").select_option("minutes")
    await page.locator("#clock-form button").click()
    await expect(page.locator("#clock-offset")).not_to_have_text("real time")
    await bot_says(page, reminder)

    # The coordinator exports the applications from the staff menu: the file downloads.
    await open_chat(page, "coordinator")
    await page.locator("#start-button").click()
    await press(page, f"✓ {LANGUAGE_NAMES[ru]}")
    await tap(page, world.label(ru, "menu-staff"))
    await press(page, world.label(ru, "staff-section-export"))
    await press(page, world.label(ru, "export-btn-xlsx"))
    export = page.locator("#messages .msg-in a.file").last
    await expect(export).to_contain_text(".xlsx")
    async with page.expect_download() as download_info:
        await export.click()
    download = await download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    workbook = await download.path()
    assert_export_lists(workbook, "Серікова Аида")

    # A coordinator on a phone: the persona list, then Aida's chat.
    phone = await world.page(PHONE, phone=True)
    await expect(phone.locator("#chat-list")).to_be_visible()
    await expect(phone.locator("#chat")).to_be_hidden()
    await expect(phone.locator('.chat-item[data-key="aida"]')).to_contain_text(
        world.text("kk", "reminder-text")
    )
    assert await phone.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    await shot(phone, "sandbox-5-phone-personas")
    await open_chat(phone, "aida")
    await expect(phone.locator("#chat-list")).to_be_hidden()
    await bot_says(phone, world.text("kk", "notice-accepted", id=apps[0].id))
    await expect(phone.locator("#reply-keyboard")).to_be_visible()
    # Nothing sticks out sideways on a 390 px screen.
    width = await phone.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
    await shot(phone, "sandbox-6-phone-chat")
    # A long course card arriving on a small screen is scrolled into view, as in Telegram.
    centre = (await repo.catalogue.centres())[0]
    course = (await repo.catalogue.courses(centre.id))[0]
    await tap(phone, world.label("kk", "menu-catalogue"))
    await bot_says(phone, world.text("kk", "catalogue-choose-centre"))
    await press(
        phone,
        world.label(
            "kk",
            "catalogue-centre-button",
            name=pick_text(centre.name, "kk"),
            city=pick_text(centre.city, "kk"),
        ),
    )
    await press(phone, f"🟢 {pick_text(course.title, 'kk')}")
    card = await bot_says(phone, pick_text(course.description, "kk")[:40])
    await expect(card.locator(".inline-button").last).to_be_in_viewport()
    gap = await phone.evaluate(
        "() => { const b = document.getElementById('messages');"
        " return b.scrollHeight - b.scrollTop - b.clientHeight; }"
    )
    assert gap < 2, f"the newest message is {gap} px below the fold"
    print(f"\nsign-up, decision and phone views: {time.monotonic() - started:.1f} s")


def assert_export_lists(path: Path, name: str) -> None:
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(path.read_bytes()), read_only=True).active
    assert sheet is not None
    cells = {str(cell) for row in sheet.iter_rows(values_only=True) for cell in row}
    assert name in cells


async def start_in(world: World, page: Any, key: str, locale: str) -> None:
    await open_chat(page, key)
    await page.locator("#start-button").click()
    await press(page, f"✓ {LANGUAGE_NAMES[locale]}")
    await bot_says(page, world.text(locale, "start-welcome"))


async def test_staff_broadcast_reaches_two_citizens(world: World) -> None:
    from playwright.async_api import expect

    page = await world.page()
    await page.clock.install()  # timers on Playwright's clock (see the first test)
    await start_in(world, page, "olga", "ru")
    await start_in(world, page, "john", "en")

    # The coordinator opens the staff workspace and writes an announcement.
    ru = "ru"
    await open_chat(page, "coordinator")
    await page.locator("#start-button").click()
    await press(page, f"✓ {LANGUAGE_NAMES[ru]}")
    await tap(page, world.label(ru, "menu-staff"))
    await press(page, world.label(ru, "broadcast-section"))
    await bot_says(page, world.text(ru, "broadcast-ask-message"))
    announcement = "Завтра в 10:00 — день открытых дверей в IT-центре Тараза!"
    await say(page, announcement)
    # Audience: everyone; the bot shows the copy recipients will get, then send it now.
    await press(page, world.label(ru, "broadcast-audience-all"))
    await expect(page.locator("#messages .msg-in").filter(has_text=announcement)).to_have_count(1)
    await press(page, world.label(ru, "broadcast-send-now"))

    # It arrives in both citizens' chats: unread badges and the preview in the list.
    for key in ("olga", "john"):
        item = page.locator(f'.chat-item[data-key="{key}"]')
        await expect(item.locator(".badge")).to_have_text("1")
        await expect(item.locator(".chat-item-preview")).to_contain_text(announcement[:20])
    await page.clock.fast_forward(TOAST_MS)
    await expect(page.locator("#toasts .toast")).to_have_count(0)
    # Bakyt never opened the bot, so he is not in the audience.
    await expect(page.locator('.chat-item[data-key="bakyt"] .badge')).to_have_count(0)
    await shot(page, "sandbox-4-broadcast")
    await open_chat(page, "john")
    await bot_says(page, announcement)
    await open_chat(page, "olga")
    await bot_says(page, announcement)


async def test_media_commands_toasts_and_the_clock(world: World, tmp_path: Path) -> None:
    """Uploads and downloads, the "/" command menu, safe rendering of what people type,
    and the clock control."""
    from playwright.async_api import expect

    page = await world.page()
    await start_in(world, page, "john", "en")

    # The command menu, from what the bot registered for English.
    await page.locator("#menu-button").click()
    menu = page.locator("#command-menu .command-item")
    await expect(menu.first).to_contain_text("/start")
    await expect(page.locator("#command-menu")).to_contain_text(
        world.label("en", "command-courses")
    )
    await menu.filter(has_text="/courses").click()
    await bot_says(page, world.text("en", "catalogue-choose-centre"))
    # Typing "/" filters the same menu.
    await page.locator("#input").fill("/he")
    await expect(menu).to_have_count(1)
    await page.locator("#input").press("Enter")
    await bot_says(page, world.text("en", "help-text"))

    # What people type is shown as typed, never run as HTML.
    typed = '<img src=x onerror="window.hacked=1"><b>not bold</b>'
    await say(page, typed)
    await expect(page.locator("#messages .msg-out .text").last).to_have_text(typed)
    assert await page.evaluate("() => window.hacked") is None
    assert await page.locator("#messages .msg-out img").count() == 0

    # A document goes up and comes back down byte for byte.
    source = tmp_path / "timetable.csv"
    source.write_bytes(b"day,room\nMonday,204\n")
    await page.locator("#file-input").set_input_files(str(source))
    link = page.locator("#messages .msg-out a.file").last
    await expect(link).to_contain_text("timetable.csv")
    async with page.expect_download() as download_info:
        await link.click()
    download = await download_info.value
    assert download.suggested_filename == "timetable.csv"
    saved = await download.path()
    assert saved.read_bytes() == source.read_bytes()

    # A photo shows inline.
    from sandbox.telegram.media import SAMPLE_PNG

    picture = tmp_path / "photo.png"
    picture.write_bytes(SAMPLE_PNG)
    await page.locator("#file-input").set_input_files(str(picture))
    image = page.locator("#messages .msg-out .photo img").last
    await expect(image).to_be_visible()
    assert await image.evaluate("img => img.naturalWidth") == 64

    # What the bot sends, edits and deletes (as Telegram delivers it): formatting is shown,
    # an edit is marked, a deletion disappears.
    import aiohttp

    from sandbox.web.core import SANDBOX_TOKEN

    api = f"{world.sandbox.api.url}/bot{SANDBOX_TOKEN}"
    html = (
        "<b>Bold</b> <i>italic</i> <u>under</u> <s>gone</s> <code>code</code> "
        '<a href="https://example.org/x">link</a> <tg-spoiler>secret</tg-spoiler>'
    )
    async with aiohttp.ClientSession() as http:
        sent = await _bot_call(http, api, "sendMessage", chat_id=JOHN.user_id, text=html)
        bubble = page.locator(f'#messages .msg[data-id="{sent["message_id"]}"]')
        for selector in ("b", "i", "u", "s", "code", "a[href='https://example.org/x']"):
            await expect(bubble.locator(f".text {selector}")).to_have_count(1)
        await expect(bubble.locator(".spoiler")).to_have_text("secret")
        await _bot_call(
            http,
            api,
            "editMessageText",
            chat_id=JOHN.user_id,
            message_id=sent["message_id"],
            text="<b>Edited</b> text",
        )
        await expect(bubble.locator(".text")).to_have_text("Edited text")
        await expect(bubble.locator(".edited")).to_be_visible()
        await _bot_call(
            http, api, "deleteMessage", chat_id=JOHN.user_id, message_id=sent["message_id"]
        )
        await expect(bubble).to_have_count(0)

    # The clock: move a day forward; the page shows how far ahead the bot's time is.
    await page.get_by_role("button", name="+1 day").click()
    await expect(page.locator("#clock-offset")).to_have_text("+1 d ahead")
    await page.locator("#clock-amount").fill("90")
    await page.locator("#clock-unit").select_option("minutes")
    await page.locator("#clock-form button").click()
    await expect(page.locator("#clock-offset")).to_have_text("+1 d 1 h 30 min ahead")
    assert world.sandbox.clock.offset.total_seconds() == 86400 + 90 * 60
    # A message sent now carries the sandbox date: a new day separator appears.
    await say(page, "a day later")
    await expect(page.locator("#messages .day")).to_have_count(2)
    # A free message is offered to a centre's staff (issue 12): the centre of John's
    # application, or a region to pick if he has none.
    offer = world.text("en", "support-offer", centre="x", hours="y")[-20:]
    where = world.text("en", "support-ask-where")
    free = re.compile(f"{re.escape(offer)}|{re.escape(where)}")
    await expect(page.locator("#messages .msg-in").filter(has_text=free).last).to_be_visible()


async def _bot_call(http: Any, api: str, method: str, **params: Any) -> Any:
    """Call the fake Bot API as the bot does (HTML parse mode)."""
    if "text" in params:
        params["parse_mode"] = "HTML"
    async with http.post(f"{api}/{method}", json=params) as response:
        body = await response.json()
        assert body["ok"], body
        return body["result"]


async def test_controls_follow_the_browsers_language_and_reset(world: World) -> None:
    """The sandbox's own controls in Kazakh for a Kazakh browser; «Reset sandbox» starts
    again from nothing."""
    from playwright.async_api import expect

    page = await world.page(locale="kk-KZ")
    assert await page.evaluate("document.documentElement.lang") == "kk"
    await expect(page.locator(".clock-label")).to_have_text("Бот уақыты")
    await expect(page.locator(".list-title")).to_have_text("Кім ретінде")
    reset = page.locator("#reset")
    await expect(reset).to_have_text("Құмсалғышты тазарту")
    await world.sandbox.move_clock(timedelta(days=1))
    first = world.sandbox.process
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await reset.click()
    await expect(page.locator("#clock-offset")).to_have_text("нақты уақыт")
    assert world.sandbox.process is not None and world.sandbox.process is not first
