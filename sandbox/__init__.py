"""Tools beside the bot, never imported by it: a Telegram Bot API emulator
(``sandbox.telegram``), the harness that runs the real bot against it (``sandbox.harness``)
and the web-chat sandbox (``sandbox.web``). Tests, benchmarks and ``main.py sandbox`` use
them; ``bot/``, ``handlers/`` and ``db/`` must not (``tests/test_layout.py``)."""
