import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_settings(code: str = "print('started')", **env_overrides) -> subprocess.CompletedProcess:
    """Start Django in a fresh process with these environment variables and run ``code``."""
    env = {key: value for key, value in os.environ.items() if key not in {"SECRET_KEY", "DEBUG"}}
    env.update(env_overrides, DJANGO_SETTINGS_MODULE="config.settings")
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_with_the_development_secret_key():
    result = run_settings(DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY is the development key while DEBUG is off" in result.stderr


def test_production_starts_with_its_own_secret_key():
    result = run_settings(DEBUG="0", SECRET_KEY="a-long-random-production-key-0123456789abcdef")
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_development_defaults_start_without_any_environment():
    assert run_settings().returncode == 0
