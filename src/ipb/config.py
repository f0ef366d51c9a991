"""One place where every path, URL and key is read: from the environment, with documented defaults.

| variable | default | meaning |
|---|---|---|
| `IPB_HOME` | the repository root | where the project lives |
| `IPB_STATE_DIR` | `$IPB_HOME/.ipb` | git-ignored local state (pgdata, airflow home, outputs) |
| `IPB_WAREHOUSE_URL` | unset | an external PostgreSQL; when set nothing embedded starts |
| `IPB_WAREHOUSE_PORT` | `55432` | TCP port of the embedded PostgreSQL on 127.0.0.1 |
| `IPB_WAREHOUSE_DB` | `ipb` | database that holds the warehouse |
| `IPB_LANDING_DIR` | `$IPB_STATE_DIR/landing` | landing zone the ingestion DAGs read |
| `IPB_AIRFLOW_HOME` | `$IPB_STATE_DIR/airflow` | local Airflow home (SQLite metadata, logs) |
| `IPB_EXPECTATIONS_DIR` | `$IPB_HOME/expectations` | GX context, gate thresholds and approved mart columns |
| `IPB_OUTPUT_DIR` | `$IPB_STATE_DIR/outputs` | published CSVs, charts and docs |
| `IPB_PSEUDONYM_KEY` | unset | HMAC key for person pseudonyms; required outside demo mode |
| `IPB_DEMO_MODE` | `0` | `1` allows a built-in demo key (never for real data) |
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORT = 55432
DEFAULT_DB = "ipb"
# A key that is public by construction: only ever usable in demo mode.
DEMO_PSEUDONYM_KEY = "ipb-demo-key-not-for-real-data"


def _find_home() -> Path:
    env = os.environ.get("IPB_HOME")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "pyproject.toml").is_file() and (candidate / "src" / "ipb").is_dir():
            return candidate
    # Editable install: src/ipb/config.py -> repository root.
    return Path(__file__).resolve().parents[2]


class ConfigError(RuntimeError):
    """A setting is missing or unsafe; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    home: Path
    state_dir: Path
    external_url: str | None
    port: int
    database: str
    landing_dir: Path
    output_dir: Path
    demo_mode: bool
    pseudonym_key_raw: str | None

    @property
    def pgdata(self) -> Path:
        return self.state_dir / "pgdata"

    @property
    def airflow_home(self) -> Path:
        env = os.environ.get("IPB_AIRFLOW_HOME")
        return Path(env).resolve() if env else self.state_dir / "airflow"

    @property
    def dags_folder(self) -> Path:
        return self.home / "dags"

    @property
    def dbt_project_dir(self) -> Path:
        return self.home / "dbt_project"

    @property
    def expectations_dir(self) -> Path:
        env = os.environ.get("IPB_EXPECTATIONS_DIR")
        return Path(env).resolve() if env else self.home / "expectations"

    @property
    def is_embedded(self) -> bool:
        return self.external_url is None

    def pseudonym_key(self) -> str:
        """The HMAC key; refuses an empty or demo key unless demo mode is on."""
        key = (self.pseudonym_key_raw or "").strip()
        if not key:
            if self.demo_mode:
                return DEMO_PSEUDONYM_KEY
            raise ConfigError(
                "IPB_PSEUDONYM_KEY is not set. Set it to a long random secret (for example from your "
                "secrets manager), or set IPB_DEMO_MODE=1 to run on synthetic data with a demo key."
            )
        if key == DEMO_PSEUDONYM_KEY and not self.demo_mode:
            raise ConfigError(
                "IPB_PSEUDONYM_KEY is the public demo key. Use a real secret, or IPB_DEMO_MODE=1 for synthetic data."
            )
        if len(key) < 16 and not self.demo_mode:
            raise ConfigError("IPB_PSEUDONYM_KEY is shorter than 16 characters: use a long random secret.")
        return key


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def load() -> Settings:
    home = _find_home()
    state = Path(os.environ.get("IPB_STATE_DIR") or home / ".ipb").resolve()
    port_text = os.environ.get("IPB_WAREHOUSE_PORT", str(DEFAULT_PORT))
    try:
        port = int(port_text)
    except ValueError as exc:
        raise ConfigError(f"IPB_WAREHOUSE_PORT must be a number, got {port_text!r}") from exc
    return Settings(
        home=home,
        state_dir=state,
        external_url=os.environ.get("IPB_WAREHOUSE_URL") or None,
        port=port,
        database=os.environ.get("IPB_WAREHOUSE_DB", DEFAULT_DB),
        landing_dir=Path(os.environ.get("IPB_LANDING_DIR") or state / "landing").resolve(),
        output_dir=Path(os.environ.get("IPB_OUTPUT_DIR") or state / "outputs").resolve(),
        demo_mode=_truthy(os.environ.get("IPB_DEMO_MODE")),
        pseudonym_key_raw=os.environ.get("IPB_PSEUDONYM_KEY") or None,
    )


@contextmanager
def temporary_environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for a block and restore what was there before (settings are read from it)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
