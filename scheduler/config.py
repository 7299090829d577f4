"""The daemon config: YAML file, ``DRSCHED_<SECTION>__<KEY>`` overrides, secrets.

Parsed once, at the edge, into frozen pydantic models. :func:`load_config`
takes the environment as an argument so tests never touch ``os.environ``.

Secrets: a key ``x`` may be given inline (discouraged), as ``x_file`` (a path
whose content is the secret), or found as ``$CREDENTIALS_DIRECTORY/<name>``
(systemd ``LoadCredential=``) under the credential names in :data:`CREDENTIALS`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
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
    if isinstance(value, bool):  # YAML's yes/no/true/false: pydantic would take it as 1s/0s
        raise ValueError("must be a duration such as 90s, 5m or 24h")
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    return value


def _not_negative(value: timedelta) -> timedelta:
    if value < timedelta(0):
        raise ValueError("must not be negative")
    return value


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be more than 0s")
    return value


#: ``90s``, ``5m``, ``24h``, ``1h30m`` (or a number of seconds); never negative.
Duration = Annotated[
    timedelta,
    BeforeValidator(_duration),
    AfterValidator(_not_negative),
    PlainSerializer(format_duration, return_type=str),
]
#: A timeout, interval or lead: zero would mean "fail at once" or "spin".
PositiveDuration = Annotated[Duration, AfterValidator(_positive)]


def _whole_number(value: object) -> object:
    if isinstance(value, bool):  # pydantic would take true as 1
        raise ValueError("must be a whole number, not true/false")
    return value


Count = Annotated[int, BeforeValidator(_whole_number)]


def _filled(value: SecretStr) -> SecretStr:
    if not value.get_secret_value().strip():
        raise ValueError("must not be empty")
    return value


#: A secret that is there: an empty token or key would only be refused by the vendor.
Secret = Annotated[SecretStr, AfterValidator(_filled)]


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]

#: ``sqlite:///path`` or ``postgresql[+driver]://...``: the two stores drsched supports.
DATABASE_URL = re.compile(r"^(sqlite|postgresql)(\+\w+)?://")


def split_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (IPv6 in brackets, ``[::1]:9464``) -> (host, port); port 0 picks one."""
    host, sep, port_text = listen.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise ValueError(f"{listen!r} is not host:port (e.g. 127.0.0.1:9464 or [::1]:9464)")
    return host, int(port_text)


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

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str) -> str:
        if value and not DATABASE_URL.match(value):
            raise ValueError(
                f"{value!r} is not a database URL drsched supports: "
                "sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
            )
        return value


class PlansConfig(_Section):
    paths: list[str] = Field(default_factory=list)


class DrApiConfig(_Section):
    base_url: HttpUrl = "http://127.0.0.1:8780/dr"
    service_id: str = Field(default="sim-service", min_length=1)
    service_token: Secret = SecretStr("sim-token")
    country_code: str = "US"
    submit_lead: PositiveDuration = timedelta(hours=24)
    timeout: PositiveDuration = timedelta(seconds=10)
    retry_attempts: Count = Field(default=5, ge=1, le=20)
    retry_total: PositiveDuration = timedelta(seconds=60)
    max_concurrency: Count = Field(default=10, ge=1, le=200)

    @field_validator("country_code")
    @classmethod
    def _alpha2(cls, value: str) -> str:
        if len(value) != 2 or not value.isalpha():
            raise ValueError("must be an ISO 3166 alpha-2 code such as US")
        return value.upper()


class BeconConfig(_Section):
    base_url: HttpUrl = "http://127.0.0.1:8780"
    service_id: str = Field(default="sim-service", min_length=1)
    service_key: Secret = SecretStr("sim-service-key")
    secret_key: Secret = SecretStr("sim-key")
    signer: str = "scheduler.clients.becon:hmac_sha256_signer"
    timeout: PositiveDuration = timedelta(seconds=10)
    retry_attempts: Count = Field(default=4, ge=1, le=20)
    retry_total: PositiveDuration = timedelta(seconds=30)
    max_concurrency: Count = Field(default=16, ge=1, le=500)

    @field_validator("signer")
    @classmethod
    def _dotted(cls, value: str) -> str:
        """The shape only: importing it is the BECON client's job (``load_signer``)."""
        module, sep, func = value.partition(":")
        if not sep or not all(part.isidentifier() for part in [*module.split("."), func]):
            raise ValueError(f"{value!r} is not 'package.module:function'")
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
    @field_validator("restore_ramp")
    @classmethod
    def _ramp_form(cls, value: str | None) -> str | None:
        if value is not None:
            from scheduler.plans.shaping import ShapingProblem, parse_ramp

            try:
                parse_ramp(value)
            except ShapingProblem as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("randomize_start")
    @classmethod
    def _randomize_bounds(cls, value: timedelta) -> timedelta:
        if not timedelta(0) <= value <= timedelta(hours=1):
            raise ValueError("must be 0s to 1h")
        return value

    prefetch_lead: Duration = timedelta(seconds=60)
    verify_interval: PositiveDuration = timedelta(minutes=5)
    restore_stagger: Duration = timedelta(minutes=10)
    #: Default of the plan key ``randomize_start`` (issue 15): 0s to 1h.
    randomize_start: Duration = timedelta(0)
    #: Default of the plan key ``restore.ramp`` (issue 15): ``STEP/EVERY`` such as 1F/5m.
    restore_ramp: str | None = None
    override: Literal["respect", "reassert"] = "respect"
    auto_mode: Literal["skip", "cool", "heat"] = "skip"
    #: On SIGTERM: ``restore`` every facility under control before exit, or
    #: ``hand_over`` (leave them: a standby takes over control).
    on_stop: Literal["restore", "hand_over"] = "restore"
    #: How long the restores on stop may take (systemd's TimeoutStopSec covers it).
    on_stop_timeout: PositiveDuration = timedelta(seconds=45)
    targets: list[HvacTarget] = Field(default_factory=list)


class HttpConfig(_Section):
    listen: str = "127.0.0.1:9464"

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        split_listen(value)
        return value


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


def _read_secret_file(path: str) -> str:
    """The secret in ``path``, stripped; ValueError says why there is none."""
    try:
        secret = Path(path).read_text().strip()
    except OSError as exc:
        raise ValueError(f"cannot read secret file {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"secret file {path} is not UTF-8 text") from exc
    if not secret:
        raise ValueError(f"secret file {path} is empty")
    return secret


def _resolve_secrets(data: dict[str, Any], env: Mapping[str, str], source: str) -> list[Problem]:
    """Replace each ``x_file`` (or systemd credential) by its secret; the problems found.

    A secret with a problem is left out, so validation does not report it twice.
    """
    problems: list[Problem] = []
    cred_dir = env.get("CREDENTIALS_DIRECTORY")
    for (section, key), cred_name in CREDENTIALS.items():
        values = data.get(section)
        if values is None:
            values = data[section] = {}
        if not isinstance(values, dict):
            continue
        file_key = f"{key}_file"
        if file_key in values:
            path, where = values.pop(file_key), f"{section}.{file_key}"
            if key in values:
                del values[key]
                problems.append(
                    Problem(source, 0, 0, f"{where}: give {key} or {file_key}, not both")
                )
                continue
        elif key not in values and cred_dir and (Path(cred_dir) / cred_name).is_file():
            path, where = Path(cred_dir) / cred_name, f"{section}.{key} (credential {cred_name})"
        else:
            continue
        try:
            values[key] = _read_secret_file(str(path))
        except ValueError as exc:
            problems.append(Problem(source, 0, 0, f"{where}: {exc}"))
    return problems


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
    problems = _resolve_secrets(data, env, source)
    try:
        config = Config.model_validate({**data, "source": source})
    except ValidationError as exc:
        raise ConfigError([*problems, *_problems(source, exc)]) from None
    if problems:
        raise ConfigError(problems)
    if not config.database.url:
        database = config.database.model_copy(update={"url": default_database_url(env)})
        config = config.model_copy(update={"database": database})
    return config


def _problems(source: str, exc: ValidationError) -> list[Problem]:
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"])
        key = key.removeprefix(".")
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (check the spelling against README's config reference)"
        elif error["type"] in ("model_type", "model_attributes_type", "dict_type"):
            message = "must be a mapping of keys"
        problems.append(Problem(source, 0, 0, f"{key}: {message}"))
    return problems
