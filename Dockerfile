# The bot's image: `docker compose up -d` (compose.yaml) runs it with PostgreSQL.
# Debian 12 base: its postgresql-client (pg_dump 15) matches compose.yaml's postgres:15.
FROM python:3.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# pg_dump for `main.py backup` and the nightly backup on PostgreSQL.
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first (one layer, rebuilt only when pyproject.toml changes), read from
# pyproject.toml as scripts/bootstrap.sh does.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml','rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .

# Never root: the data directory (SQLite file, backups) is the only place it writes.
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin bot \
    && mkdir -p /app/data/backups \
    && chown -R bot /app/data
USER bot

# /healthz, /readyz and /metrics on a side port (also in webhook mode).
ENV HEALTH_PORT=8081 \
    HEALTH_HOST=0.0.0.0 \
    WEBHOOK_HOST=0.0.0.0
EXPOSE 8081 8443
VOLUME ["/app/data"]

HEALTHCHECK --interval=30s --timeout=6s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8081/readyz', timeout=5)"]

# SIGTERM (docker stop) stops the bot gracefully: no new updates, the acknowledged ones
# answered, the outbox's requests in flight written, then the sessions closed.
STOPSIGNAL SIGTERM
CMD ["python", "main.py", "run"]
