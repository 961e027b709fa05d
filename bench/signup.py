"""Sign-up under load: many citizens at once, three processes, before and after.

    .venv/bin/python bench/signup.py --baseline-ref main          # main vs this tree
    .venv/bin/python bench/signup.py --users 100,300 --paths full,deeplink
    .venv/bin/python bench/signup.py --quick                       # 20 citizens, a smoke test
    .venv/bin/python bench/signup.py --floor --paths deeplink      # and the stack's floor

Three processes, so the bot's own figures are its own:

- the **fake Bot API** (``sandbox/telegram``, answering every request after 50 ms, as a
  network does) with a small control API on the side;
- the **bot** (``BotProcess``, long polling, a SQLite file with the demo catalogue) of
  the tree under test, which counts its own CPU time, SQL statements and write
  transactions (SQLAlchemy events), updates and translator calls;
- the **load generator** (this process): N simulated citizens at once, each waiting for
  the bot's reply before the next step. A citizen answers whatever question the bot asks
  (the labels come from the tree under test), so the same generator drives a form whose
  steps changed. Step latency is timed inside the fake server, from the citizen's action
  to the bot's message that asks the next question.

Paths: ``full`` (/start → language → catalogue → centre → course → sign up → the form →
confirm) and ``deeplink`` (/start c_<course> → language → the course card → sign up → the
form → confirm). ``--baseline-ref REF`` measures REF (a temporary ``git worktree``) in the
same run, alternating with this tree, and prints the ratios. The machine's load average
is printed with the figures: CPU per update and statements per update do not depend on
it; latencies and throughput do.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456789:BENCH-signup-token"
STAFF_CHAT_ID = -100_777
ADMIN_ID = 900_001
FIRST_CITIZEN = 300_000
LOCALE = "en"
FLOOR = "floor"
# BENCH_SQL_LOG=1: the bot prints its most frequent statements (per update) on stderr.
SQL_LOG = os.environ.get("BENCH_SQL_LOG") == "1"
# BENCH_TRACE=1 (with --users 1): the bot prints each update's write transactions on stderr.
TRACE = os.environ.get("BENCH_TRACE") == "1"
# BENCH_VARIANT=uvloop,orjson: the bot of this tree (not a --baseline-ref) runs on uvloop
# and/or parses and builds JSON with orjson (measurement only: neither is a dependency of
# the bot), so `--baseline-ref HEAD` measures the variant against the same code.
VARIANT = os.environ.get("BENCH_VARIANT", "")


# ---- the fake Bot API, in its own process --------------------------------------------


async def serve(latency: float) -> None:
    """The fake Bot API plus a control API for the load generator (one line on stdout
    says where both listen)."""
    from aiohttp import web

    from sandbox.telegram import EventKind, FakeBotAPI
    from sandbox.telegram.models import Event

    server = FakeBotAPI(token=TOKEN, latency=latency, max_recorded_requests=10)
    await server.start()
    server.add_group_chat(STAFF_CHAT_ID, title="Staff")
    reply_kinds = {EventKind.MESSAGE_SENT, EventKind.MESSAGE_EDITED}
    stamps: dict[int, float] = {}
    requests: dict[str, int] = {}

    def on_event(event: Event) -> None:
        if event.kind in reply_kinds:
            stamps[event.seq] = time.perf_counter()

    server.subscribe(on_event)
    record = server._record

    def count_request(method: str, params: Any, files: Any, status: int, body: Any) -> None:
        requests[method] = requests.get(method, 0) + 1
        if status != 200:
            requests["(errors)"] = requests.get("(errors)", 0) + 1
        record(method, params, files, status, body)

    server._record = count_request  # type: ignore[method-assign]

    def describe(event: Event) -> dict[str, Any]:
        message = event.message
        assert message is not None
        return {
            "seq": event.seq,
            "t": stamps.get(event.seq, time.perf_counter()),
            "text": message.content,
            "buttons": message.buttons(),
        }

    async def users(request: web.Request) -> web.Response:
        body = await request.json()
        for uid in body["ids"]:
            server.add_user(int(uid), "Aida", LOCALE, last_name="Serikova")
        return web.json_response({"ok": True})

    async def act(request: web.Request) -> web.Response:
        body = await request.json()
        user = server.user(int(body["user"]))
        kind, value = body["action"], body["value"]
        started = time.perf_counter()
        point = server.sim.chat(user.id).last_user_seq if server.sim.chat(user.id) else 0
        if kind == "command":
            command, _, args = value.partition(" ")
            user.send_command(command, args or None)
        elif kind == "text":
            user.send_text(value)
        elif kind == "button":
            user.press_button(value)
        elif kind == "reply_button":
            user.press_reply_button(value)
        else:
            raise web.HTTPBadRequest(text=kind)
        after = max(point, server.sim.chat(user.id).last_user_seq - 1)
        return web.json_response({"t": started, "after": after})

    async def wait(request: web.Request) -> web.Response:
        body = await request.json()
        uid, after = int(body["user"]), int(body["after"])
        chat = server.sim.chat(uid)

        def newer(event: Event) -> bool:
            return event.chat_id == uid and event.kind in reply_kinds and event.seq > after

        try:
            await server.sim.wait_event(newer, float(body.get("timeout", 60)), past=chat.bot_events)
        except TimeoutError:
            return web.json_response({"events": []})
        events = [describe(e) for e in chat.bot_events if e.seq > after]
        return web.json_response({"events": events})

    async def stats(request: web.Request) -> web.Response:
        if request.method == "POST":
            requests.clear()
        return web.json_response(dict(requests))

    app = web.Application()
    app.router.add_post("/users", users)
    app.router.add_post("/act", act)
    app.router.add_post("/wait", wait)
    app.router.add_route("*", "/stats", stats)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(json.dumps({"api": server.api_base, "ctl": f"http://127.0.0.1:{port}"}), flush=True)
    try:
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    finally:
        await runner.cleanup()
        await server.stop()


# ---- the bot of the tree under test, in its own process -----------------------------


class Counters:
    def __init__(self) -> None:
        self.statements = 0
        self.writes = 0
        self.updates = 0
        self.translations = 0
        self.by_statement: dict[str, int] = {}

    def reset(self) -> None:
        self.statements = self.writes = self.updates = self.translations = 0
        self.by_statement.clear()


def install_counters(counters: Counters) -> None:
    """SQL statements and write transactions (SQLAlchemy events on every engine), and
    translator calls (the bound translator's methods wrapped)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    dml = ("INSERT", "UPDATE", "DELETE", "REPLACE")

    def before(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        head = statement.lstrip()[:7].upper()
        if head.startswith(("BEGIN", "COMMIT", "ROLLBAC", "PRAGMA", "SAVEPOI", "RELEASE")):
            return
        counters.statements += 1
        if SQL_LOG:
            key = " ".join(statement.split())[:90]
            counters.by_statement[key] = counters.by_statement.get(key, 0) + 1
        if head.startswith(dml):
            conn.info["bench_wrote"] = True
            if TRACE:
                conn.info.setdefault("bench_sql", []).append(" ".join(statement.split())[:60])

    def on_commit(conn: Any) -> None:
        if conn.info.pop("bench_wrote", False):
            counters.writes += 1
            if TRACE:
                print(f"    write: {conn.info.pop('bench_sql', [])}", file=sys.stderr)

    def on_rollback(conn: Any) -> None:
        # A connection invalidated by a cancelled task (the outbox's, when the bot stops)
        # has no info to read: reading it would raise inside the bot's own rollback.
        if not conn.invalidated:
            conn.info.pop("bench_wrote", None)

    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "commit", on_commit)
    event.listen(Engine, "rollback", on_rollback)

    from bot import i18n

    bound = getattr(i18n, "BoundTranslator", None)
    for name in ("__call__", "plain", "pick"):
        original = getattr(bound, name, None) if bound is not None else None
        if original is None:
            continue

        def wrapper(self: Any, *a: Any, _original: Any = original, **kw: Any) -> Any:
            counters.translations += 1
            return _original(self, *a, **kw)

        setattr(bound, name, wrapper)


async def cpu_until_stop() -> dict[str, float]:
    """Wait for STOP on stdin; meanwhile count the process's CPU time, its event loop
    thread's, and the garbage collector's (seconds)."""
    import gc

    gc_time = [0.0, 0.0]

    def on_gc(phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            gc_time[1] = time.process_time()
        else:
            gc_time[0] += time.process_time() - gc_time[1]

    gc.callbacks.append(on_gc)
    cpu, loop_cpu = time.process_time(), time.thread_time()
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    cpu, loop_cpu = time.process_time() - cpu, time.thread_time() - loop_cpu
    gc.callbacks.remove(on_gc)
    return {"cpu": cpu, "gc": gc_time[0], "loop_cpu": loop_cpu}


async def run_bot(api: str, workdir: Path, profile: Path | None) -> None:
    """Start the bot, print what the load generator needs, then count between GO and
    STOP (lines on stdin) and print the counts."""
    import logging

    logging.basicConfig(level=logging.ERROR)
    counters = Counters()
    install_counters(counters)
    from bot.config import load_settings
    from bot.i18n import LANGUAGE_NAMES, pick_text
    from bot.runner import BotProcess

    env = {
        "BOT_TOKEN": TOKEN,
        "BOT_API_URL": api,
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir}/bot.sqlite3",
        "ADMIN_IDS": str(ADMIN_ID),
        "STAFF_CHAT_ID": str(STAFF_CHAT_ID),
        "DEFAULT_LOCALE": "ru",
        "THROTTLE_RATE": "0",
    }
    settings = load_settings(env, require_token=True)

    async def count(handler: Any, event: Any, data: dict[str, Any]) -> Any:
        counters.updates += 1
        if TRACE:
            what = event.message or event.callback_query
            text = getattr(what, "text", None) or getattr(what, "data", None)
            print(f"update {counters.updates}: {text!r}", file=sys.stderr)
        return await handler(event, data)

    process = BotProcess(settings, on_app=lambda app: app.dispatcher.update.outer_middleware(count))
    app = await process.start()
    if "orjson" in VARIANT and process.bot is not None:
        import orjson

        session = process.bot.session
        session.json_loads = orjson.loads
        session.json_dumps = lambda obj: orjson.dumps(obj).decode()
    from bot import factory

    settle = getattr(factory, "settle_heap", None)
    if settle is not None:  # as bot.runner.run_bot does once started
        settle()
    tr = app.translator
    centre = (await app.repo.catalogue.centres())[0]
    course = next(c for c in await app.repo.catalogue.courses(centre.id) if c.enrolment_open)
    districts = await app.repo.catalogue.districts(centre.region_id)

    def plain(key: str, **kw: Any) -> str | None:
        try:
            text = tr.plain(LOCALE, key, **kw)
        except Exception:
            return None
        if text == key:
            return None
        return html.unescape(re.sub(r"<[^>]+>", "", text))

    labels = {
        "picker": f"✓ {LANGUAGE_NAMES[LOCALE]}",
        "catalogue": plain("menu-catalogue"),
        "centre": plain(
            "catalogue-centre-button",
            name=pick_text(centre.name, LOCALE),
            city=pick_text(centre.city, LOCALE),
        ),
        "course": f"🟢 {pick_text(course.title, LOCALE)}",
        "signup": plain("course-signup"),
        "ask_name": (plain("signup-ask-name") or "")[:30],
        "use_contact_name": plain("signup-use-contact-name"),
        "share_phone": plain("signup-share-phone"),
        "district": pick_text(districts[0].name, LOCALE),
        "any_group": plain("signup-any-group"),
        "consent": plain("signup-consent-agree"),
        "confirm": plain("signup-confirm"),
        "done": (plain("signup-done", id=0) or "")[:16],
        "deeplink": f"start c_{course.code}",
    }
    print(json.dumps({"labels": labels}), flush=True)
    loop = asyncio.get_running_loop()
    line = await loop.run_in_executor(None, sys.stdin.readline)
    assert line.strip() == "GO", line
    profiler = None
    if profile is not None:
        import cProfile

        # The event loop thread's CPU time, not wall time: on a shared machine a wall clock
        # charges other processes' time to whatever was running (sqlite's worker threads
        # are left out: their CPU is in the "CPU ms/upd" column, not in the profile).
        profiler = cProfile.Profile(time.thread_time)
        profiler.enable()
    counters.reset()
    figures: dict[str, Any] = await cpu_until_stop()
    if profiler is not None and profile is not None:
        profiler.disable()
        profile.parent.mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(profile)
    figures.update(
        statements=counters.statements,
        writes=counters.writes,
        updates=counters.updates,
        translations=counters.translations,
    )
    await process.stop()
    if SQL_LOG:
        top = sorted(counters.by_statement.items(), key=lambda kv: -kv[1])[:25]
        for text, n in top:
            print(f"{n / max(1, counters.updates):6.3f}/update  {text}", file=sys.stderr)
    print(json.dumps(figures), flush=True)


# ---- the load generator (this process) -----------------------------------------------


@dataclass
class Result:
    tree: str
    path: str
    users: int
    elapsed: float
    latencies: list[float]
    actions: int
    bot: dict[str, Any]
    requests: dict[str, int]
    loadavg: tuple[float, float, float]
    failures: int = 0
    steps: list[str] = field(default_factory=list)
    crowd: Crowd | None = None

    def pct(self, q: float) -> float:
        lat = sorted(self.latencies)
        return lat[min(len(lat) - 1, int(len(lat) * q))] * 1000 if lat else float("nan")

    @property
    def signups_per_s(self) -> float:
        return (self.users - self.failures) / self.elapsed

    @property
    def cpu_ms(self) -> float:
        return float(self.bot["cpu"]) * 1000 / max(1, int(self.bot["updates"]))

    def per_update(self, n: float) -> float:
        return n / max(1, int(self.bot["updates"]))

    @property
    def little_bound_ms(self) -> float:
        """Little's law for a closed loop without think time: N citizens each waiting for
        a reply means a reply takes N / throughput on average (throughput in updates/s)."""
        per_s = int(self.bot["updates"]) / self.elapsed
        return self.users / per_s * 1000 if per_s else float("nan")

    @property
    def api_requests(self) -> int:
        return sum(n for m, n in self.requests.items() if m.lower() != "getupdates" and m[0] != "(")


@dataclass(frozen=True)
class Crowd:
    """The realistic scenario: citizens arrive at uniformly random moments within
    ``arrival`` seconds (a centre posts its link in a big channel), and each one reads
    and taps like a person: ``button`` seconds (uniform) before each tap, ``typed``
    seconds before a typed answer (the name). Seeded: the same moments every run."""

    arrival: float = 60.0
    button: tuple[float, float] = (2.0, 6.0)
    typed: tuple[float, float] = (6.0, 12.0)
    seed: int = 15

    def describe(self) -> str:
        return (
            f"arrivals uniform over {self.arrival:.0f} s; think time uniform "
            f"{self.button[0]:.0f}–{self.button[1]:.0f} s before a tap, "
            f"{self.typed[0]:.0f}–{self.typed[1]:.0f} s before the typed name; seed {self.seed}"
        )


class Citizen:
    """Answers whatever the bot asks, one step at a time, waiting for each reply (and,
    in a crowd, arriving late and thinking before each step)."""

    def __init__(
        self, uid: int, path: str, labels: dict[str, Any], crowd: Crowd | None = None
    ) -> None:
        self.uid = uid
        self.path = path
        self.l = labels
        self.done: set[str] = set()
        self.steps: list[str] = []
        self.crowd = crowd
        self.rng = random.Random(crowd.seed * 1_000_003 + uid) if crowd else None

    async def think(self, stage: str | None) -> None:
        if self.crowd is None or self.rng is None:
            return
        if stage is None:
            low, high = 0.0, self.crowd.arrival
        elif stage == "name":
            low, high = self.crowd.typed
        else:
            low, high = self.crowd.button
        await asyncio.sleep(self.rng.uniform(low, high))

    def next_action(self, events: list[dict[str, Any]]) -> tuple[str, str, str] | None:
        """(stage, kind, value) of the next question among the bot's new messages, or None
        to keep waiting. Stages already answered are not answered again."""
        lab = self.l
        for ev in reversed(events):
            text, buttons = ev["text"], ev["buttons"]
            if lab["done"] and lab["done"] in text:
                return ("done", "", "")
            candidates: list[tuple[str, str, str | None]] = [
                ("confirm", "button", lab["confirm"] if lab["confirm"] in buttons else None),
                ("consent", "button", lab["consent"] if lab["consent"] in buttons else None),
                ("group", "button", lab["any_group"] if lab["any_group"] in buttons else None),
                ("district", "button", lab["district"] if lab["district"] in buttons else None),
                (
                    "contact_name",
                    "button",
                    lab["use_contact_name"]
                    if lab["use_contact_name"] and lab["use_contact_name"] in buttons
                    else None,
                ),
                (
                    "phone",
                    "reply_button",
                    lab["share_phone"] if lab["share_phone"] in buttons else None,
                ),
                (
                    "name",
                    "text",
                    "Serikova Aida" if lab["ask_name"] and lab["ask_name"] in text else None,
                ),
                ("signup", "button", lab["signup"] if lab["signup"] in buttons else None),
                ("course", "button", lab["course"] if lab["course"] in buttons else None),
                ("centre", "button", lab["centre"] if lab["centre"] in buttons else None),
                (
                    "menu",
                    "text",
                    lab["catalogue"]
                    if self.path == "full" and lab["catalogue"] in buttons
                    else None,
                ),
                ("picker", "button", lab["picker"] if lab["picker"] in buttons else None),
            ]
            for stage, kind, value in candidates:
                if value is not None and stage not in self.done:
                    return (stage, kind, value)
        return None

    async def run(self, session: Any, ctl: str, latencies: list[float]) -> bool:
        first = ("command", self.l["deeplink"]) if self.path == "deeplink" else ("command", "start")
        kind, value = first
        await self.think(None)
        for _ in range(40):
            async with session.post(
                f"{ctl}/act", json={"user": self.uid, "action": kind, "value": value}
            ) as r:
                acted = await r.json()
            self.steps.append(f"{kind}:{value}")
            after, started = acted["after"], acted["t"]
            while True:
                async with session.post(
                    f"{ctl}/wait", json={"user": self.uid, "after": after, "timeout": 30}
                ) as r:
                    waited = await r.json()
                events = waited["events"]
                if not events:
                    return False
                found = self.next_action(events)
                if found is not None:
                    stamp = next(e["t"] for e in reversed(events) if self.next_action([e]))
                    latencies.append(stamp - started)
                    break
                after = events[-1]["seq"]
            stage, kind, value = found
            if stage == "done":
                return True
            self.done.add(stage)
            await self.think(stage)
        return False


def spawn(args: list[str], tree: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONHASHSEED": "0"}
    if tree.resolve() != ROOT:
        # BENCH_VARIANT is tried on this tree; a baseline runs as it is.
        env.pop("BENCH_VARIANT", None)
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), *args],
        cwd=tree,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def read_json(proc: subprocess.Popen[str]) -> dict[str, Any]:
    assert proc.stdout is not None
    while True:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("a bench process ended early (see its output above)")
        if line.startswith("{"):
            return dict(json.loads(line))


def send(proc: subprocess.Popen[str], line: str) -> None:
    assert proc.stdin is not None
    proc.stdin.write(line + "\n")
    proc.stdin.flush()


async def measure(
    tree: Path,
    name: str,
    path: str,
    users: int,
    latency: float,
    profile: Path | None,
    crowd: Crowd | None = None,
) -> Result:
    import aiohttp

    server = spawn(["server", "--latency", str(latency)], ROOT)
    bot: subprocess.Popen[str] | None = None
    try:
        where = read_json(server)
        with tempfile.TemporaryDirectory() as tmp:
            bot_args = ["bot", "--api", where["api"], "--workdir", tmp]
            if name == FLOOR:
                bot_args.append("--floor")
            if profile is not None:
                bot_args += ["--profile", str(profile)]
            bot = spawn(bot_args, tree)
            labels = (await asyncio.to_thread(read_json, bot))["labels"]
            ids = [FIRST_CITIZEN + i for i in range(users)]
            connector = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(connector=connector) as session:
                async with session.post(f"{where['ctl']}/users", json={"ids": ids}) as r:
                    await r.json()
                async with session.post(f"{where['ctl']}/stats") as r:
                    await r.json()
                send(bot, "GO")
                latencies: list[float] = []
                citizens = [Citizen(uid, path, labels, crowd) for uid in ids]
                started = time.perf_counter()
                outcomes = await asyncio.gather(
                    *(c.run(session, where["ctl"], latencies) for c in citizens)
                )
                elapsed = time.perf_counter() - started
                async with session.get(f"{where['ctl']}/stats") as r:
                    requests = await r.json()
            send(bot, "STOP")
            figures = await asyncio.to_thread(read_json, bot)
            bot.wait(30)
    finally:
        if bot is not None and bot.poll() is None:
            bot.kill()
        send(server, "STOP")
        server.wait(30)
    return Result(
        tree=name,
        path=path,
        users=users,
        elapsed=elapsed,
        latencies=latencies,
        actions=sum(len(c.steps) for c in citizens),
        bot=figures,
        requests=requests,
        loadavg=os.getloadavg(),
        failures=outcomes.count(False),
        steps=citizens[0].steps,
        crowd=crowd,
    )


HEADER = (
    f"{'tree':<10} {'path':<9} {'N':>4} {'sign-ups/s':>10} {'p50 ms':>8} {'p95 ms':>8} "
    f"{'N/X ms':>7} {'CPU ms/upd':>10} {'loop ms':>7} {'GC ms':>6} {'SQL/upd':>8} "
    f"{'writes/upd':>10} {'API/upd':>8} {'tr/upd':>7} {'steps':>6} {'load':>5}"
)
CROWD_HEADER = (
    f"{'tree':<10} {'path':<9} {'N':>4} {'done in s':>10} {'p50 ms':>8} {'p95 ms':>8} "
    f"{'p99 ms':>7} {'CPU ms/upd':>10} {'loop ms':>7} {'GC ms':>6} {'SQL/upd':>8} "
    f"{'writes/upd':>10} {'API/upd':>8} {'tr/upd':>7} {'steps':>6} {'load':>5}"
)


def _tail(r: Result) -> str:
    return (
        f"{r.cpu_ms:>10.2f} {r.per_update(r.bot.get('loop_cpu', 0) * 1000):>7.2f} "
        f"{r.per_update(r.bot.get('gc', 0) * 1000):>6.2f} "
        f"{r.per_update(r.bot['statements']):>8.2f} "
        f"{r.per_update(r.bot['writes']):>10.2f} {r.per_update(r.api_requests):>8.2f} "
        f"{r.per_update(r.bot['translations']):>7.2f} {r.actions / r.users:>6.1f} "
        f"{r.loadavg[0]:>5.1f}" + (f"  FAILED {r.failures}" if r.failures else "")
    )


def row(r: Result) -> str:
    if r.crowd is not None:
        return (
            f"{r.tree:<10} {r.path:<9} {r.users:>4} {r.elapsed:>10.0f} {r.pct(0.5):>8.0f} "
            f"{r.pct(0.95):>8.0f} {r.pct(0.99):>7.0f} " + _tail(r)
        )
    return (
        f"{r.tree:<10} {r.path:<9} {r.users:>4} {r.signups_per_s:>10.1f} {r.pct(0.5):>8.0f} "
        f"{r.pct(0.95):>8.0f} {r.little_bound_ms:>7.0f} " + _tail(r)
    )


def baseline_tree(ref: str, into: Path) -> Path:
    tree = into / "baseline"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), ref],
        check=True,
        capture_output=True,
    )
    return tree


async def main(args: argparse.Namespace) -> None:
    users = [int(n) for n in args.users.split(",") if n.strip() and int(n)]
    paths = args.paths.split(",")
    command = " ".join(["bench/signup.py", *sys.argv[1:]])
    print(f"# .venv/bin/python {command}")
    print(f"# fake Bot API answering after {args.latency * 1000:.0f} ms; {os.cpu_count()} CPUs")
    print(f"# load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        trees: list[tuple[str, Path]] = []
        if args.baseline_ref:
            trees.append((args.baseline_ref[:10], baseline_tree(args.baseline_ref, Path(tmp))))
        trees.append(("this", ROOT))
        if args.floor:
            trees.append((FLOOR, ROOT))
        results: list[Result] = []
        try:
            if users:
                print("## saturation: every citizen acts again as soon as the reply arrives")
                print(HEADER, flush=True)
            for n in users:
                for path in paths:
                    for _ in range(args.repeat):
                        for name, tree in trees:
                            if name == FLOOR and path != "deeplink":
                                continue  # the floor bot knows the deep link only
                            profile = None
                            if args.profile:
                                profile = Path(args.profile) / f"{name}-{path}-{n}.prof"
                            r = await measure(tree, name, path, n, args.latency, profile)
                            results.append(r)
                            print(row(r), flush=True)
            if users:
                print(LITTLE_NOTE)
            if args.crowd:
                crowd = Crowd(arrival=args.arrival)
                print(f"## crowd: {args.crowd} citizens; {crowd.describe()}")
                print(CROWD_HEADER, flush=True)
                for path in args.crowd_paths.split(","):
                    for name, tree in trees:
                        if name == FLOOR and path != "deeplink":
                            continue  # the floor bot knows the deep link only
                        profile = None
                        if args.profile:
                            profile = Path(args.profile) / f"{name}-{path}-crowd.prof"
                        r = await measure(
                            tree, name, path, args.crowd, args.latency, profile, crowd
                        )
                        results.append(r)
                        print(row(r), flush=True)
        finally:
            for _name, tree in trees:
                if tree != ROOT:
                    subprocess.run(  # noqa: ASYNC221 - the runs are over
                        ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                        check=False,
                        capture_output=True,
                    )
    if args.baseline_ref:
        print("ratios (this / baseline, medians of the repeats; saturation):")
        for n in users:
            for path in paths:
                runs = [r for r in results if r.path == path and r.users == n and not r.crowd]
                mine = [r for r in runs if r.tree == "this"]
                base = [r for r in runs if r.tree not in ("this", FLOOR)]

                def ratio(f: Any, mine: list[Result] = mine, base: list[Result] = base) -> str:
                    a = statistics.median(float(f(r)) for r in mine)
                    b = statistics.median(float(f(r)) for r in base)
                    return f"×{a / b:.2f}"

                print(
                    f"  {path:<9} {n:>4}: sign-ups/s {ratio(lambda r: r.signups_per_s)}, "
                    f"p50 {ratio(lambda r: r.pct(0.5))}, p95 {ratio(lambda r: r.pct(0.95))}, "
                    f"CPU/update {ratio(lambda r: r.cpu_ms)}, "
                    f"SQL/update {ratio(lambda r: r.per_update(r.bot['statements']))}"
                )
    floors = [r for r in results if r.tree == FLOOR]
    if floors:
        print("the stack's floor (bench/floor.py: the deep link on aiogram alone), same run:")
        for n, in_crowd in [*((n, False) for n in users), (args.crowd, True)]:
            mine = [
                r
                for r in results
                if r.tree == "this"
                and r.path == "deeplink"
                and r.users == n
                and (r.crowd is not None) == in_crowd
            ]
            floor = [r for r in floors if r.users == n and (r.crowd is not None) == in_crowd]
            if mine and floor:
                a = statistics.median(r.cpu_ms for r in mine)
                b = statistics.median(r.cpu_ms for r in floor)
                what = "crowd" if in_crowd else "deeplink"
                print(
                    f"  {what:<8}  {n:>4}: CPU/update this {a:.2f} ms, floor {b:.2f} ms "
                    f"(this ÷ floor ×{a / b:.2f}, this − floor {a - b:.2f} ms)"
                )
    print(f"# load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"# steps of one sign-up ({results[-1].path}): {' → '.join(results[-1].steps)}")


LITTLE_NOTE = """\
# N/X: Little's law. With N citizens who act again the moment a reply arrives, the mean
# reply time is N divided by the throughput X (updates/s): a median under 200 ms at
# N = 300 would need 1,500 updates/s. This table measures capacity; the crowd table
# below measures replies as people see them."""


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="role")
    server = sub.add_parser("server")
    server.add_argument("--latency", type=float, default=0.05)
    bot = sub.add_parser("bot")
    bot.add_argument("--api", required=True)
    bot.add_argument("--workdir", required=True)
    bot.add_argument("--profile", default=None)
    bot.add_argument("--floor", action="store_true", help="run bench/floor.py's bot instead")
    parser.add_argument("--users", default="100,300")
    parser.add_argument("--paths", default="full,deeplink")
    parser.add_argument("--baseline-ref", default=None, help="also measure this git ref")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--profile", default=None, help="directory for cProfile dumps")
    parser.add_argument("--quick", action="store_true", help="20 citizens, full path")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also measure bench/floor.py: the deep link on aiogram alone (the stack's floor)",
    )
    parser.add_argument(
        "--crowd", type=int, default=300, help="citizens in the crowd scenario (0: none)"
    )
    parser.add_argument("--crowd-paths", default="deeplink", help="paths of the crowd scenario")
    parser.add_argument("--arrival", type=float, default=60.0, help="crowd arrival window, s")
    args = parser.parse_args()
    if args.role == "server":
        asyncio.run(serve(args.latency))
    elif args.role == "bot":
        profile = Path(args.profile) if args.profile else None
        if args.floor:
            from bench.floor import run_floor

            asyncio.run(run_floor(args.api))
        elif "uvloop" in VARIANT:
            import uvloop

            uvloop.run(run_bot(args.api, Path(args.workdir), profile))
        else:
            asyncio.run(run_bot(args.api, Path(args.workdir), profile))
    else:
        if args.quick:
            args.users, args.paths, args.crowd = "20", "full", 0
        asyncio.run(main(args))


if __name__ == "__main__":
    # Run as a file: the tree under test comes first on the path (PYTHONPATH).
    if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
        sys.path.pop(0)
    cli()
