"""The daemon config: YAML file, ``DRSCHED_<SECTION>__<KEY>`` overrides, secrets.

Parsed once, at the edge, into frozen pydantic models. :func:`load_config`
takes the environment as an argument so tests never touch ``os.environ``.

Secrets: a key ``x`` may be given inline (discouraged), as ``x_file`` (a path
whose content is the secret), or found as ``$CREDENTIALS_DIRECTORY/<name>``
(systemd ``LoadCredential=``) under the credential names in :data:`CREDENTIALS`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SecretStr,
    ValidationError,
    field_validator,
)
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from scheduler.durations import format_duration, parse_duration
from scheduler.errors import ConfigError, Problem


def _duration(value: object) -> object:
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    return value


Duration = Annotated[
    timedelta,
    BeforeValidator(_duration),
    PlainSerializer(format_duration, return_type=str),
]

#: (section, key) of each secret -> its systemd credential name.
CREDENTIALS: dict[tuple[str, str], str] = {
    ("dr_api", "service_token"): "dr-token",
    ("becon", "service_key"): "becon-service-key",
    ("becon", "secret_key"): "becon-key",
}

#: The simulator's built-in credentials (``drsched simulate``), used by default.
SIM_DEFAULTS = {
    ("dr_api", "service_token"): "sim-token",
    ("becon", "service_key"): "sim-service-key",
    ("becon", "secret_key"): "sim-key",
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def default_database_url(env: Mapping[str, str]) -> str:
    """``$STATE_DIRECTORY/drsched.db`` under systemd, else ``./var/drsched.db``."""
    state = env.get("STATE_DIRECTORY", "").split(":")[0]
    base = Path(state) if state else Path("var")
    return f"sqlite:///{base / 'drsched.db'}"


class DatabaseConfig(_Section):
    url: str = ""
    busy_timeout: Duration = timedelta(seconds=30)


class PlansConfig(_Section):
    paths: list[str] = Field(default_factory=list)


class DrApiConfig(_Section):
    base_url: str = "http://127.0.0.1:8780/dr"
    service_id: str = "sim-service"
    service_token: SecretStr = SecretStr("sim-token")
    country_code: str = "US"
    submit_lead: Duration = timedelta(hours=24)
    timeout: Duration = timedelta(seconds=10)
    retry_attempts: int = Field(default=5, ge=1, le=20)
    retry_total: Duration = timedelta(seconds=60)
    max_concurrency: int = Field(default=10, ge=1, le=200)

    @field_validator("country_code")
    @classmethod
    def _alpha2(cls, value: str) -> str:
        if len(value) != 2 or not value.isalpha():
            raise ValueError("must be an ISO 3166 alpha-2 code such as US")
        return value.upper()


class BeconConfig(_Section):
    base_url: str = "http://127.0.0.1:8780"
    service_id: str = "sim-service"
    service_key: SecretStr = SecretStr("sim-service-key")
    secret_key: SecretStr = SecretStr("sim-key")
    signer: str = "scheduler.clients.becon:hmac_sha256_signer"
    timeout: Duration = timedelta(seconds=10)
    retry_attempts: int = Field(default=4, ge=1, le=20)
    retry_total: Duration = timedelta(seconds=30)
    max_concurrency: int = Field(default=16, ge=1, le=500)

    @field_validator("signer")
    @classmethod
    def _dotted(cls, value: str) -> str:
        module, sep, func = value.partition(":")
        if not sep or not module or not func:
            raise ValueError("must be 'package.module:function'")
        return value


FACILITY_TYPES = ("IDU", "ODU", "VENT", "AWHP", "AHU", "CHILLER", "AIRCARE")


class HvacTarget(_Section):
    """A VEN (optionally one of its resources) mapped to BECON facilities."""

    ven: str
    resource: str | None = None
    site: str
    gateway: str
    types: list[str] = Field(default_factory=list)
    facilities: list[str] = Field(default_factory=list)

    @field_validator("types")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        unknown = [t for t in value if t not in FACILITY_TYPES]
        if unknown:
            raise ValueError(f"unknown facility type(s) {unknown}; known: {list(FACILITY_TYPES)}")
        return value


class HvacConfig(_Section):
    prefetch_lead: Duration = timedelta(seconds=60)
    verify_interval: Duration = timedelta(minutes=5)
    restore_stagger: Duration = timedelta(minutes=10)
    override: Literal["respect", "reassert"] = "respect"
    auto_mode: Literal["skip", "cool", "heat"] = "skip"
    targets: list[HvacTarget] = Field(default_factory=list)


class HttpConfig(_Section):
    listen: str = "127.0.0.1:9464"


class LoggingConfig(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class Config(_Section):
    database: DatabaseConfig = DatabaseConfig()
    plans: PlansConfig = PlansConfig()
    dr_api: DrApiConfig = DrApiConfig()
    becon: BeconConfig = BeconConfig()
    hvac: HvacConfig = HvacConfig()
    http: HttpConfig = HttpConfig()
    logging: LoggingConfig = LoggingConfig()
    #: Where the config came from (for messages); not a key users write.
    source: str = Field(default="<defaults>", exclude=True)

    def redacted(self) -> dict[str, Any]:
        """The effective config as data, every secret shown as ``***``."""
        return self.model_dump(mode="json")


def _yaml_scalar(text: str) -> Any:
    """Parse an environment value as YAML, so lists and numbers work too."""
    try:
        return YAML(typ="safe").load(text)
    except YAMLError:
        return text


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> None:
    for name, value in env.items():
        if not name.startswith("DRSCHED_") or "__" not in name:
            continue
        section, _, key = name.removeprefix("DRSCHED_").lower().partition("__")
        target = data.setdefault(section, {})
        if isinstance(target, dict):
            target[key] = _yaml_scalar(value)


def _read_secret_file(path: str, where: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise ConfigError.single(where, f"cannot read secret file {path}: {exc.strerror}") from exc


def _resolve_secrets(data: dict[str, Any], env: Mapping[str, str], source: str) -> None:
    cred_dir = env.get("CREDENTIALS_DIRECTORY")
    for (section, key), cred_name in CREDENTIALS.items():
        values = data.get(section)
        if values is None:
            values = data[section] = {}
        if not isinstance(values, dict):
            continue
        file_key = f"{key}_file"
        if file_key in values:
            if key in values:
                raise ConfigError.single(source, f"{section}: give {key} or {file_key}, not both")
            values[key] = _read_secret_file(str(values.pop(file_key)), f"{source}: {section}")
        elif key not in values and cred_dir and (Path(cred_dir) / cred_name).is_file():
            values[key] = _read_secret_file(str(Path(cred_dir) / cred_name), source)


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = YAML(typ="safe").load(path.read_text())
    except OSError as exc:
        raise ConfigError.single(str(path), f"cannot read config: {exc.strerror}") from exc
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([Problem(str(path), line, col, f"YAML syntax: {problem}")]) from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError.single(str(path), "the config must be a mapping of sections")
    return loaded


def config_path(explicit: str | None, env: Mapping[str, str]) -> Path | None:
    """``--config`` wins, then ``$DRSCHED_CONFIG``; None means built-in defaults."""
    chosen = explicit or env.get("DRSCHED_CONFIG")
    return Path(chosen) if chosen else None


def load_config(path: Path | None, env: Mapping[str, str] | None = None) -> Config:
    """Read, override, resolve secrets and validate; every problem at once."""
    env = os.environ if env is None else env
    source = str(path) if path else "<defaults>"
    data = _load_yaml(path) if path else {}
    _apply_env(data, env)
    _resolve_secrets(data, env, source)
    try:
        config = Config.model_validate({**data, "source": source})
    except ValidationError as exc:
        raise ConfigError(_problems(source, exc)) from None
    if not config.database.url:
        database = config.database.model_copy(update={"url": default_database_url(env)})
        config = config.model_copy(update={"database": database})
    return config


def _problems(source: str, exc: ValidationError) -> list[Problem]:
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        key = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (check the spelling against README's config reference)"
        problems.append(Problem(source, 0, 0, f"{key}: {message}"))
    return problems
