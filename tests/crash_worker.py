"""A bot process for the crash and freeze tests:
``python -m tests.crash_worker CONCURRENCY [STALE_AFTER BATCH_SIZE]``.

Imports everything, then waits for the Bot API's URL on stdin (the test starts its fake
server and prepares the database meanwhile); takes BOT_TOKEN, DATABASE_URL and
BROADCAST_RATE from the environment and runs a ``BotProcess`` — its outbox sends what the
database holds — until it is killed.
"""

from __future__ import annotations

import asyncio
import os
import sys

from bot.config import load_settings
from bot.runner import BotProcess


async def main(concurrency: int, extra: list[str]) -> None:
    api_url = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    env = {**os.environ, "BOT_API_URL": api_url.strip()}
    settings = load_settings(env, require_token=True)
    options: dict[str, object] = {"concurrency": concurrency}
    if extra:
        options.update(stale_after=float(extra[0]), batch_size=int(extra[1]))
    process = BotProcess(settings, seed_catalog=False, outbox_options=options)
    await process.start(polling=False)
    print("started", flush=True)
    await asyncio.Event().wait()  # until SIGKILL


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2:]))
