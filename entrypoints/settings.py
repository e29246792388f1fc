"""Configuration from `ORDERLY_*` environment variables, validated with messages
that name the variable to fix."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, TypeVar
from urllib.parse import urlparse

T = TypeVar("T", int, float)

# Set by `orderly serve --workers N` for its workers: how many share the rate limit.
SERVING_PROCESSES_ENV = "ORDERLY_SERVE_WORKERS"
# Where processes that share one /metrics write their samples (prometheus_client's
# multiprocess mode); it must be set before prometheus_client is first imported.
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


class ConfigError(Exception):
    """A configuration variable is malformed; the message names it."""


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///orderly.db"
    # Whether the request path's reads run on the event loop on PostgreSQL: auto (when
    # the server is on this machine), true or false (entrypoints/http/offload.py).
    database_inline_reads: str = "auto"
    messaging: str = "inprocess"
    rabbitmq_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    currency: str = "EUR"
    payment_timeout_seconds: int = 900
    payments_decline_above: int = 100_000_000
    payments_failure_rate: float = 0.0
    payments_ledger_path: str = ""
    payments_latency_ms: int = 0
    payments_concurrency: int = 0  # 0: automatic (see gateway_concurrency)
    payments_timeout_seconds: float = 10.0
    payments_breaker_failures: int = 5
    payments_breaker_cooldown_seconds: float = 10.0
    max_delivery_attempts: int = 5
    retry_delay_ms: int = 1000
    rabbitmq_prefetch: int = 500
    relay_batch_size: int = 500
    outbox_lease_seconds: float = 60.0  # a crashed relay's batch is free again after it
    rate_limit_per_minute: int = 600
    redis_url: str = ""  # the shared rate-limit store; empty: each process counts alone
    sweep_interval_seconds: float = 30.0
    log_level: str = "INFO"
    webhook_timeout_seconds: float = 5.0
    webhook_retry_base_seconds: float = 10.0
    webhook_max_attempts: int = 8
    webhook_breaker_failures: int = 5
    webhook_breaker_cooldown_seconds: float = 60.0
    webhooks_allow_private_networks: bool = False

    @property
    def storage(self) -> str:
        """`memory` or `sql`, from the database URL."""
        return "memory" if self.database_url.startswith("memory:") else "sql"

    @property
    def delivery(self) -> str:
        """How events reach handlers: `sync` (memory, in the committing thread),
        `background` (SQL with in-process messaging: a relay thread), `rabbitmq`."""
        if self.messaging == "rabbitmq":
            return "rabbitmq"
        return "sync" if self.storage == "memory" else "background"

    @property
    def gateway_concurrency(self) -> int:
        """How many gateway calls one batch of events makes at once.

        Overlapping calls pays when each waits on the network (a remote gateway, or
        the simulated one given a latency). The simulated gateway with no latency
        answers within this process at once, so threads gain nothing and their hand-offs
        contend for the GIL with the request path: one call after another, then
        (docs/decisions/0023-gateway-calls-overlap-only-when-they-wait.md).
        ORDERLY_PAYMENTS_CONCURRENCY overrides the choice."""
        if self.payments_concurrency:
            return self.payments_concurrency
        return 32 if self.payments_latency_ms else 1

    def as_config(self) -> dict[str, Any]:
        data = asdict(self)
        data["storage"] = self.storage
        data["delivery"] = self.delivery
        data["gateway_concurrency"] = self.gateway_concurrency
        return data

    @staticmethod
    def from_env(env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        defaults = Settings()

        def text(name: str, default: str) -> str:
            return env.get(f"ORDERLY_{name}", default).strip() or default

        database_url = text("DATABASE_URL", defaults.database_url)
        _check_database_url(database_url)
        inline_reads = text("DATABASE_INLINE_READS", defaults.database_inline_reads).lower()
        if inline_reads not in {"auto", "true", "false"}:
            raise ConfigError(
                f"ORDERLY_DATABASE_INLINE_READS must be auto, true or false, got {inline_reads!r}"
            )
        messaging = text("MESSAGING", defaults.messaging).lower()
        if messaging not in {"inprocess", "rabbitmq"}:
            raise ConfigError(f"ORDERLY_MESSAGING must be inprocess or rabbitmq, got {messaging!r}")
        rabbitmq_url = text("RABBITMQ_URL", defaults.rabbitmq_url)
        parsed = urlparse(rabbitmq_url)
        if parsed.scheme not in {"amqp", "amqps"} or not parsed.hostname:
            raise ConfigError(
                f"ORDERLY_RABBITMQ_URL must look like amqp://user:pass@host:5672/vhost, "
                f"got {rabbitmq_url!r}"
            )
        currency = text("CURRENCY", defaults.currency)
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise ConfigError(
                f"ORDERLY_CURRENCY must be a 3-letter ISO 4217 code, got {currency!r}"
            )
        log_level = text("LOG_LEVEL", defaults.log_level).upper()
        if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ConfigError("ORDERLY_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")

        allow_private = text("WEBHOOKS_ALLOW_PRIVATE_NETWORKS", "false").lower()
        if allow_private not in {"true", "false", "1", "0", "yes", "no"}:
            raise ConfigError(
                "ORDERLY_WEBHOOKS_ALLOW_PRIVATE_NETWORKS must be true or false, "
                f"got {allow_private!r}"
            )
        # Parsed here, before the REDIS_URL check and the table, to report errors in the
        # order they always came; a whole number of seconds, stored as a float.
        sweep = _Integer(1).read(env, "SWEEP_INTERVAL_SECONDS")
        redis_url = text("REDIS_URL", "")
        if redis_url and urlparse(redis_url).scheme not in {"redis", "rediss", "unix"}:
            raise ConfigError(
                f"ORDERLY_REDIS_URL must look like redis://host:6379/0, got {redis_url!r}"
            )
        numbers: dict[str, Any] = {}
        for field, rule in _NUMBERS.items():
            value = rule.read(env, field.upper())
            if value is not None:
                numbers[field] = value
        if sweep is not None:
            numbers["sweep_interval_seconds"] = float(sweep)
        return Settings(
            database_url=database_url,
            database_inline_reads=inline_reads,
            messaging=messaging,
            rabbitmq_url=rabbitmq_url,
            currency=currency,
            payments_ledger_path=text("PAYMENTS_LEDGER_PATH", ""),
            redis_url=redis_url,
            log_level=log_level,
            webhooks_allow_private_networks=allow_private in {"true", "1", "yes"},
            **numbers,
        )


def _number(env: Mapping[str, str], name: str, convert: type[T], what: str) -> T | None:
    """ORDERLY_<name> converted, or None when it is unset or blank (the default stands)."""
    raw = env.get(f"ORDERLY_{name}")
    if raw is None or not raw.strip():
        return None
    try:
        return convert(raw)
    except ValueError:
        raise ConfigError(f"ORDERLY_{name} must be {what}, got {raw!r}") from None


@dataclass(frozen=True)
class _Integer:
    low: int
    high: int | None = None

    def read(self, env: Mapping[str, str], name: str) -> int | None:
        value = _number(env, name, int, "an integer")
        if value is not None and (
            value < self.low or (self.high is not None and value > self.high)
        ):
            bound = f">= {self.low}" if self.high is None else f"{self.low}-{self.high}"
            raise ConfigError(f"ORDERLY_{name} must be {bound}, got {value}")
        return value


@dataclass(frozen=True)
class _Fraction:
    def read(self, env: Mapping[str, str], name: str) -> float | None:
        value = _number(env, name, float, "a number")
        if value is not None and not 0.0 <= value <= 1.0:
            raise ConfigError(f"ORDERLY_{name} must be between 0 and 1, got {value}")
        return value


@dataclass(frozen=True)
class _Seconds:
    low: float
    high: float

    def read(self, env: Mapping[str, str], name: str) -> float | None:
        value = _number(env, name, float, "a number of seconds")
        if value is not None and not self.low <= value <= self.high:  # NaN fails too
            raise ConfigError(
                f"ORDERLY_{name} must be {self.low:g}-{self.high:g} seconds, "
                f"got {env[f'ORDERLY_{name}']!r}"
            )
        return value


# The numeric settings: field -> rule, read from ORDERLY_<FIELD> in this order (the
# first bad variable is the one reported); unset or blank keeps the field's default.
_NUMBERS: dict[str, _Integer | _Fraction | _Seconds] = {
    "payment_timeout_seconds": _Integer(1),
    "payments_decline_above": _Integer(0),
    "payments_failure_rate": _Fraction(),
    "payments_latency_ms": _Integer(0, 600_000),
    "payments_concurrency": _Integer(0, 256),
    "payments_timeout_seconds": _Seconds(0.001, 3600),
    "payments_breaker_failures": _Integer(1, 1_000_000),
    "payments_breaker_cooldown_seconds": _Seconds(0.0, 86_400),
    "max_delivery_attempts": _Integer(1, 100),
    "retry_delay_ms": _Integer(10, 3_600_000),
    "rabbitmq_prefetch": _Integer(1, 10_000),
    "relay_batch_size": _Integer(1, 10_000),
    "outbox_lease_seconds": _Seconds(1, 86_400),
    "rate_limit_per_minute": _Integer(1),
    "webhook_timeout_seconds": _Seconds(0.01, 300),
    "webhook_retry_base_seconds": _Seconds(0.001, 86_400),
    "webhook_max_attempts": _Integer(1, 100),
    "webhook_breaker_failures": _Integer(1, 10_000),
    "webhook_breaker_cooldown_seconds": _Seconds(0.001, 86_400),
}


def _check_database_url(url: str) -> None:
    if url.startswith("memory:"):
        if url not in {"memory:", "memory://"}:
            raise ConfigError(f"ORDERLY_DATABASE_URL: use memory:// for in-memory, got {url!r}")
        return
    parsed = urlparse(url)
    scheme = parsed.scheme.split("+")[0]
    if scheme == "sqlite":
        if not url.startswith("sqlite:///"):
            raise ConfigError(
                f"ORDERLY_DATABASE_URL: a SQLite URL is sqlite:///path/to/file.db, got {url!r}"
            )
        return
    if scheme in {"postgresql", "postgres"}:
        if not parsed.hostname and "host=" not in parsed.query:
            raise ConfigError(f"ORDERLY_DATABASE_URL: a PostgreSQL URL needs a host, got {url!r}")
        return
    raise ConfigError(
        "ORDERLY_DATABASE_URL must be memory://, sqlite:///FILE or "
        f"postgresql://USER@HOST:PORT/DB, got {url!r}"
    )
