"""The container image, the compose file and the systemd units hold what going live
needs. (Docker cannot build or run images on the test machine: no registry is reachable,
so these read the files; `docker compose config` is run where a compose tool exists.)"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import PROJECT_ROOT, load_settings

ROOT = PROJECT_ROOT


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    joined = re.sub(r"\\\n\s*", " ", text)
    out = []
    for line in joined.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return data


def test_dockerfile_essentials() -> None:
    steps = dockerfile()
    kinds = [k for k, _ in steps]
    base = next(a for k, a in steps if k == "FROM")
    match = re.match(r"python:3\.(\d+)", base)
    assert match and int(match.group(1)) >= 11  # the project needs 3.11+
    # Dependencies from pyproject.toml, before the source is copied (cached layer).
    assert kinds.index("RUN", kinds.index("COPY")) < next(
        i for i, (k, a) in enumerate(steps) if k == "COPY" and a.startswith(". ")
    )
    assert any("pyproject.toml" in a and "pip install" in a for k, a in steps if k == "RUN")
    assert any("postgresql-client" in a for k, a in steps if k == "RUN")  # pg_dump
    user = [a for k, a in steps if k == "USER"]
    assert user and user[-1] not in ("root", "0")
    health = next(a for k, a in steps if k == "HEALTHCHECK")
    assert "/readyz" in health
    assert ("STOPSIGNAL", "SIGTERM") in steps
    cmd = next(a for k, a in steps if k == "CMD")
    assert cmd == '["python", "main.py", "run"]'
    env = " ".join(a for k, a in steps if k == "ENV")
    assert "HEALTH_PORT=8081" in env and "8081" in health
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".env", "data", ".git"} <= set(ignored)  # no secrets, no local data


def test_compose_bot_postgres_optional_redis() -> None:
    spec = compose()
    services = spec["services"]
    bot, db, redis = services["bot"], services["db"], services["redis"]
    assert bot["build"] == "."
    assert bot["env_file"] == ".env"
    assert bot["environment"]["DATABASE_URL"].startswith("postgresql+asyncpg://bot:")
    assert "@db:5432/bot" in bot["environment"]["DATABASE_URL"]
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"
    for service in (bot, db, redis):
        assert service["restart"] == "unless-stopped"
        assert "healthcheck" in service
    assert "/readyz" in " ".join(bot["healthcheck"]["test"])
    assert redis["profiles"] == ["redis"]  # optional
    named = set(spec["volumes"])
    mounts = {v.split(":")[0] for s in services.values() for v in s.get("volumes", [])}
    assert mounts == named == {"botdata", "pgdata", "redisdata"}
    # pg_dump in the bot's image (Debian 12: 15) must not be older than the server.
    assert db["image"] == "postgres:15"
    # Every variable the compose file and the image set is one the bot reads.
    settings = load_settings(
        {
            "DATABASE_URL": "postgresql+asyncpg://bot:x@db:5432/bot",
            "BACKUP_DIR": bot["environment"]["BACKUP_DIR"],
            "HEALTH_PORT": "8081",
            "HEALTH_HOST": "0.0.0.0",
            "WEBHOOK_HOST": "0.0.0.0",
        }
    )
    assert settings.health_port == 8081


def test_env_example_documents_every_new_setting() -> None:
    example = (ROOT / ".env.example").read_text()
    for name in ("LOG_FORMAT", "HEALTH_PORT", "BACKUP_DIR", "BACKUP_KEEP", "BACKUP_TIME"):
        assert re.search(rf"^# .*\n#? ?{name}=", example, re.M), name


def test_systemd_units() -> None:
    for name in ("it-courses-bot.service", "it-courses-bot@.service"):
        text = (ROOT / "deploy" / "systemd" / name).read_text()
        assert "ExecStart=/opt/it-courses-bot/.venv/bin/python main.py run" in text
        assert "Restart=always" in text and "KillSignal=SIGTERM" in text
        assert re.search(r"^User=itbot$", text, re.M)
        assert "WantedBy=multi-user.target" in text
    worker = (ROOT / "deploy" / "systemd" / "it-courses-bot@.service").read_text()
    assert "HEALTH_PORT=809%i" in worker


def test_image_installs_the_projects_dependencies() -> None:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.startswith("prometheus-client") for d in deps)


@pytest.mark.skipif(
    shutil.which("docker-compose") is None, reason="no docker-compose on this machine"
)
def test_docker_compose_config_validates(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("POSTGRES_PASSWORD=x\nBOT_TOKEN=1:x\n")
    shutil.copy(ROOT / "compose.yaml", tmp_path)
    done = subprocess.run(
        ["docker-compose", "config", "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("guide", ["guide.en.md", "guide.ru.md"])
def test_the_coordinator_guide_names_commands_that_exist(guide: str) -> None:
    """Every `main.py <command>` and compose/systemd file the guide tells a coordinator to
    use exists, so the guide cannot drift from the bot."""
    from main import _parser

    text = (ROOT / "docs" / guide).read_text(encoding="utf-8")
    commands = set(re.findall(r"(?:main\.py|scripts/run\.sh) ([a-z][a-z-]+)", text))
    known = set(_parser()._subparsers._group_actions[0].choices or ())  # type: ignore[union-attr]
    assert commands >= {"backup", "restore", "recent-users", "import-catalog", "run"}
    assert commands <= known
    for path in re.findall(r"`((?:deploy|docs|catalog)/[\w./@-]+)`", text):
        assert (ROOT / path).exists(), path
    assert "/staffchat" in text and "BotFather" in text and "ADMIN_IDS" in text
