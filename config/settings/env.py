"""The one place where Relais reads its environment.

Every other settings module imports ``env`` and ``MODE`` from here, so that a setting is never
read from ``os.environ`` somewhere else.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
_dotenv = BASE_DIR / ".env"
if _dotenv.exists():
    env.read_env(str(_dotenv))

#: "demo" (embedded defaults: SQLite, tasks in-process, mail captured on disk) or "production".
MODE = env.str("RELAIS_MODE", default="demo")
if MODE not in {"demo", "production"}:
    raise environ.ImproperlyConfigured(f"RELAIS_MODE must be 'demo' or 'production', not {MODE!r}")
IS_PRODUCTION = MODE == "production"
