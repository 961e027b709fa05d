"""A bot process for the crash test: ``python -m tests.crash_worker CONCURRENCY``.

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


async def main(concurrency: int) -> None:
    api_url = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    env = {**os.environ, "BOT_API_URL": api_url.strip()}
    settings = load_settings(env, require_token=True)
    process = BotProcess(settings, seed_catalog=False, outbox_options={"concurrency": concurrency})
    await process.start(polling=False)
    print("started", flush=True)
    await asyncio.Event().wait()  # until SIGKILL


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
