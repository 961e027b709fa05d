"""Class reminders, attendance answers and the staff's daily digest (issue 5).

How it fits together (DESIGN rules 1, 2, 5 and 6):

* The database is the source of truth. Jobs on the process's scheduler
  (``bot.scheduler``) are derived from it: for every class not cancelled and every
  offset of ``REMINDER_OFFSETS`` (default 24h, 1h) a job
  ``reminder:{session_id}:{offset_minutes}`` at ``starts_at - offset`` (the scheduler's
  kind ``reminder:{session_id}``, target the offset). Jobs are rebuilt at start-up,
  re-derived every ten minutes (a class changed by another process is picked up) and
  replaced at once when a class is added, moved or cancelled here (``session_changed``).
  Only reminders due within ``horizon`` (8 days) get jobs, so a whole term does not sit
  in memory; the re-derivation moves the window on.
* A reminder is a ``deliveries`` row before it is sent: kind ``reminder``, dedupe key
  ``reminder:{session}:{offset}:{user}``, ``expires_at`` = the class's start. The key
  makes every path idempotent: a job, the catch-up after a restart, a second process,
  a rebuilt schedule all enqueue the same rows, and ``ON CONFLICT DO NOTHING`` keeps one.
* Catch-up (``run_due``, at start-up, on every clock jump and every minute by the job
  ``reminder_sweep:0``): the offset
  due now is the smallest one whose instant has passed, for classes that have not
  started. So a reminder missed while the bot was down is sent late, but only before the
  class starts, and only the latest one (a trainee never gets "in 24 hours" and "in
  1 hour" at once).
* A moved class keeps its keys: an offset already reminded is never reminded again (the
  trainee got the schedule notice about the move); the offsets still ahead fire at the
  new time; rows not sent yet now expire at the new start. A cancelled class's jobs are
  removed and its unsent rows skipped; the renderer checks again at send time.
* The renderer builds the text at send time in the trainee's language, with "I'll come"
  / "I can't come" buttons (``ReminderCB``); it skips a trainee who turned reminders
  off, left the group, or a class that was cancelled or has started.
* A daily digest ``digest:{centre_id}`` at 18:00 in each centre's time zone posts
  tomorrow's classes with expected attendance to ``STAFF_CHAT_ID``; a ``kv`` marker
  claimed with INSERT … ON CONFLICT DO NOTHING makes it once per centre and day.
* ``SCHEDULER_ENABLED=false``: this process runs no jobs and no catch-up (another
  process does); its outbox still sends reminders, and a class changed here still gets
  its unsent rows re-timed or skipped.

Every job runs ``bot.scheduler.run_job`` with ids only; with a ``ManualClock`` (tests)
the scheduler stays paused and only ``BotProcess.time_moved()`` (the catch-up) moves
things on.

The package, by concern: ``texts`` (buttons, reminder and digest texts), ``planning``
(pure logic: offsets, instants, the job plan), ``service`` (``ReminderService``, built
and started by ``bot.runner.BotProcess``) and ``hooks`` (the hooks below, for code that
changes classes: they reach the running service without importing it).
"""

from bot.reminders.hooks import catalog_changed, current_service, session_changed

__all__ = ["catalog_changed", "current_service", "session_changed"]
