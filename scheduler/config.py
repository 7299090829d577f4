"""The daemon config: YAML file, ``DRSCHED_<SECTION>__<KEY>`` overrides, secrets.

Parsed once, at the edge, into frozen pydantic models. :func:`load_config`
takes the environment as an argument so tests never touch ``os.environ``.

Secrets: a key ``x`` may be given inline (discouraged), as ``x_file`` (a path
whose content is the secret), or found as ``$CREDENTIALS_DIRECTORY/<name>``
(systemd ``LoadCredential=``) under the credential names in :data:`CREDENTIALS`.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin
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
    model_validator,
)
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from scheduler.domain.dr_programs import ProgramRules
from scheduler.durations import MAX_DURATION, format_duration, parse_duration
from scheduler.errors import ConfigError, Problem
from scheduler.plans.model import DrProgramShape


def _duration(value: object) -> object:
    if isinstance(value, bool):  # YAML's yes/no/true/false: pydantic would take it as 1s/0s
        raise ValueError("must be a duration such as 90s, 5m or 24h")
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, int | float):
        if not math.isfinite(value) or abs(value) > MAX_DURATION.total_seconds():
            raise ValueError(f"must be at most {format_duration(MAX_DURATION)}")
        return timedelta(seconds=value)
    return value


def _not_negative(value: timedelta) -> timedelta:
    if value < timedelta(0):
        raise ValueError("must not be negative")
    return value


def bounds(low: str, high: str) -> AfterValidator:
    """A duration from ``low`` to ``high`` inclusive (docs/config.md lists each key's)."""
    least, most = parse_duration(low), parse_duration(high)

    def check(value: timedelta) -> timedelta:
        if not least <= value <= most:
            raise ValueError(f"must be from {low} to {high}, got {format_duration(value)}")
        return value

    return AfterValidator(check)


#: ``90s``, ``5m``, ``24h``, ``1h30m`` (or a number of seconds); never negative.
#: Every key adds its own :func:`bounds`: zero would mean "fail at once" or
#: "spin", a huge value "never", and a tiny pacing interval floods a vendor.
Duration = Annotated[
    timedelta,
    BeforeValidator(_duration),
    AfterValidator(_not_negative),
    PlainSerializer(format_duration, return_type=str),
]
#: A per-call timeout.
Timeout = Annotated[Duration, bounds("100ms", "5m")]
#: The time spent retrying one call.
RetryTotal = Annotated[Duration, bounds("1s", "1h")]


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
    # A number written where text is expected (``service_id: 123``, ``gateway: 1``) is text.
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


def default_database_url(env: Mapping[str, str]) -> str:
    """``$STATE_DIRECTORY/drsched.db`` under systemd, else ``./var/drsched.db``."""
    state = env.get("STATE_DIRECTORY", "").split(":")[0]
    base = Path(state) if state else Path("var")
    return f"sqlite:///{base / 'drsched.db'}"


class DatabaseConfig(_Section):
    url: str = ""
    busy_timeout: Annotated[Duration, bounds("0s", "10m")] = timedelta(seconds=30)

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
    submit_lead: Annotated[Duration, bounds("1s", "30d")] = timedelta(hours=24)
    timeout: Timeout = timedelta(seconds=10)
    retry_attempts: Count = Field(default=5, ge=1, le=20)
    retry_total: RetryTotal = timedelta(seconds=60)
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
    timeout: Timeout = timedelta(seconds=10)
    retry_attempts: Count = Field(default=4, ge=1, le=20)
    retry_total: RetryTotal = timedelta(seconds=30)
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

    prefetch_lead: Annotated[Duration, bounds("0s", "1h")] = timedelta(seconds=60)
    #: Paces a gateway-state read per gateway during every window: at least 1s.
    verify_interval: Annotated[Duration, bounds("1s", "1d")] = timedelta(minutes=5)
    restore_stagger: Annotated[Duration, bounds("0s", "1h")] = timedelta(minutes=10)
    #: Default of the plan key ``randomize_start`` (issue 15).
    randomize_start: Annotated[Duration, bounds("0s", "1h")] = timedelta(0)
    #: Default of the plan key ``restore.ramp`` (issue 15): ``STEP/EVERY`` such as 1F/5m.
    restore_ramp: str | None = None
    override: Literal["respect", "reassert"] = "respect"
    auto_mode: Literal["skip", "cool", "heat"] = "skip"
    #: On SIGTERM: ``restore`` every facility under control before exit, or
    #: ``hand_over`` (leave them: a standby takes over control); ``auto``: hand over
    #: when a standby drsched is connected to the same PostgreSQL database, else restore.
    on_stop: Literal["auto", "restore", "hand_over"] = "auto"
    #: How long the restores on stop may take (systemd's TimeoutStopSec covers it).
    on_stop_timeout: Annotated[Duration, bounds("1s", "1h")] = timedelta(seconds=45)
    targets: list[HvacTarget] = Field(default_factory=list)
    #: How long HVAC reads (the evidence of every event) are kept; 0 keeps them forever.
    reads_retention: Annotated[Duration, bounds("0s", "366d")] = timedelta(days=366)


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


class DrProgramConfig(DrProgramShape):
    """A DR program for events from outside plan files (an OpenADR VTN), with the same
    keys as a plan's ``dr_programs`` entry; its ``timezone`` is required here."""

    timezone: str

    @model_validator(mode="after")
    def _rules_parse(self) -> DrProgramConfig:
        self.rules()
        return self

    def rules(self) -> ProgramRules:
        from scheduler.plans.dr_rules import build_rules  # holidays, dateutil: only when used

        found: list[str] = []
        rules = build_rules(self, None, lambda _key, message: found.append(message), "the config")
        if rules is None:
            raise ValueError("; ".join(found))
        return rules


class OpenadrSignalMap(_Section):
    """How one OpenADR signal becomes a drsched signal (docs/openadr.md "Mapping")."""

    #: The OpenADR signal name: SIMPLE (``level`` payload 1-3) or LOAD_CONTROL
    #: (``x-loadControlLevelOffset`` payload = the temperature offset, in ``unit``).
    signal: Literal["SIMPLE", "LOAD_CONTROL"]
    targets: list[str] = Field(min_length=1)
    min_temp: float | None = None
    max_temp: float | None = None
    unit: Literal["F", "C"] = "F"


class OpenadrTarget(_Section):
    ven: str = Field(min_length=1)
    resources: list[str] = Field(default_factory=list)


class MarketContextMap(_Section):
    """An OpenADR market context (DR program) and the drsched defaults its events take."""

    market_context: str = Field(min_length=1)
    vtn_id: str = Field(min_length=1)  # the DR Requests API's vtnID
    targets: list[OpenadrTarget] = Field(min_length=1)
    signals: list[OpenadrSignalMap] = Field(min_length=1)


class OpenadrConfig(_Section):
    """drsched as an OpenADR 2.0b VEN (docs/openadr.md); absent means off."""

    vtn_url: HttpUrl
    ven_name: str = Field(min_length=1)
    ven_id: str | None = None
    cert_file: str | None = None  # TLS client certificate, also signs messages
    key_file: str | None = None
    ca_file: str | None = None  # the CA that signed the VTN's certificate
    vtn_fingerprint: str | None = None
    check_fingerprint: bool = True
    #: None: the VTN's requested poll frequency.
    poll_interval: Annotated[Duration, bounds("1s", "1h")] | None = None
    retry_initial: Annotated[Duration, bounds("100ms", "5m")] = timedelta(seconds=2)
    retry_max: Annotated[Duration, bounds("1s", "1h")] = timedelta(minutes=5)
    market_contexts: list[MarketContextMap] = Field(default_factory=list)

    @model_validator(mode="after")
    def _tls(self) -> OpenadrConfig:
        """Certificate and key go together; with them, the VTN's fingerprint is checked."""
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("key_file: give cert_file and key_file together (or neither)")
        if self.cert_file and self.check_fingerprint and not self.vtn_fingerprint:
            raise ValueError(
                "vtn_fingerprint: required with cert_file (the VTN's certificate "
                "fingerprint), or set check_fingerprint: false"
            )
        return self


class Config(_Section):
    database: DatabaseConfig = DatabaseConfig()
    plans: PlansConfig = PlansConfig()
    dr_api: DrApiConfig = DrApiConfig()
    becon: BeconConfig = BeconConfig()
    hvac: HvacConfig = HvacConfig()
    http: HttpConfig = HttpConfig()
    logging: LoggingConfig = LoggingConfig()
    dr_programs: list[DrProgramConfig] = Field(default_factory=list)
    openadr: OpenadrConfig | None = None
    #: Where the config came from (for messages); not a key users write.
    source: str = Field(default="<defaults>", exclude=True)

    def program_rules(self) -> list[ProgramRules]:
        """The config's DR programs (for events from any source, plans included)."""
        return [entry.rules() for entry in self.dr_programs]

    def redacted(self) -> dict[str, Any]:
        """The effective config as data, every secret shown as ``***``."""
        return self.model_dump(mode="json")


#: ``DRSCHED_`` variables that are not config keys: the config path, and names
#: the test suite reserves (``DRSCHED_TEST_PG_URL``, ``DRSCHED_FUZZ_EXAMPLES``).
ENV_PREFIX = "DRSCHED_"
ENV_OWN = ("DRSCHED_CONFIG",)
ENV_RESERVED = ("DRSCHED_TEST_", "DRSCHED_FUZZ_")


def _env_field(section: str, key: str) -> Any | None:
    """The field ``section.key`` names (a secret's ``x_file`` too); None if no such key."""
    model = Config.model_fields.get(section)
    if model is None or section == "source":
        return None
    inner = model.annotation
    if not (isinstance(inner, type) and issubclass(inner, BaseModel)):
        return None
    if key.endswith("_file") and (section, key.removesuffix("_file")) in CREDENTIALS:
        return str
    field = inner.model_fields.get(key)
    return None if field is None else field.annotation


def _wants_text(annotation: Any) -> bool:
    """True for a key whose value is text (``str``, a URL, a secret, one of some words):
    ``DRSCHED_HTTP__LISTEN=8080`` or ``DRSCHED_DR_API__SERVICE_ID=123`` stay text."""
    if annotation in (str, SecretStr) or get_origin(annotation) is Literal:
        return True
    args = [a for a in get_args(annotation) if a is not type(None)]
    return get_origin(annotation) in (Union, UnionType) and all(_wants_text(a) for a in args)


def _env_value(name: str, text: str, annotation: Any) -> Any:
    """The variable's value: as text for a text key, else parsed as YAML (lists, numbers)."""
    if _wants_text(annotation):
        return text
    try:
        return YAML(typ="safe").load(text)
    except YAMLError as exc:
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ValueError(f"{name}: not valid YAML ({reason})") from None


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """Apply every ``DRSCHED_<SECTION>__<KEY>``; (key -> variable, problems).

    A variable that names no key is a problem, never silently ignored.
    """
    applied: dict[str, str] = {}
    problems: list[str] = []
    for name, value in sorted(env.items()):
        if not name.startswith(ENV_PREFIX) or name in ENV_OWN or name.startswith(ENV_RESERVED):
            continue
        section, sep, key = name.removeprefix(ENV_PREFIX).lower().partition("__")
        annotation = _env_field(section, key) if sep else None
        if annotation is None:
            problems.append(
                f"{name}: no such setting (write DRSCHED_<SECTION>__<KEY> for a config key, "
                "e.g. DRSCHED_DR_API__TIMEOUT; see docs/config.md)"
            )
            continue
        target = data.setdefault(section, {})
        if not isinstance(target, dict):
            problems.append(f"{name}: the config's {section} is not a mapping")
            continue
        try:
            target[key] = _env_value(name, value, annotation)
        except ValueError as exc:
            problems.append(str(exc))
            target.pop(key, None)
            continue
        applied[f"{section}.{key}"] = name
    return applied, problems


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


def _resolve_secrets(
    data: dict[str, Any], env: Mapping[str, str], source: str, from_env: Mapping[str, str]
) -> list[Problem]:
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
            if f"{section}.{file_key}" in from_env:
                where += f" ({from_env[f'{section}.{file_key}']})"
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
    from_env, env_problems = _apply_env(data, env)
    problems = [Problem(source, 0, 0, p) for p in env_problems]
    problems += _resolve_secrets(data, env, source, from_env)
    try:
        config = Config.model_validate({**data, "source": source})
    except ValidationError as exc:
        raise ConfigError([*problems, *_problems(source, exc, from_env)]) from None
    if problems:
        raise ConfigError(problems)
    if not config.database.url:
        database = config.database.model_copy(update={"url": default_database_url(env)})
        config = config.model_copy(update={"database": database})
    return config


def _problems(source: str, exc: ValidationError, from_env: Mapping[str, str]) -> list[Problem]:
    """Each validation error naming its key, and the variable when one set it."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"])
        key = key.removeprefix(".")
        variable = from_env.get(".".join(str(p) for p in error["loc"][:2]))
        if variable:
            key = f"{key} ({variable})"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (check the spelling against README's config reference)"
        elif error["type"] in ("model_type", "model_attributes_type", "dict_type"):
            message = "must be a mapping of keys"
        problems.append(Problem(source, 0, 0, f"{key}: {message}"))
    return problems
