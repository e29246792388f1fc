"""Configuration from `ORDERLY_*` environment variables, validated with messages
that name the variable to fix."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlparse

# Set by `orderly serve --workers N` for its workers: how many share the rate limit.
SERVING_PROCESSES_ENV = "ORDERLY_SERVE_WORKERS"


class ConfigError(Exception):
    """A configuration variable is malformed; the message names it."""


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///orderly.db"
    messaging: str = "inprocess"
    rabbitmq_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    currency: str = "EUR"
    payment_timeout_seconds: int = 900
    payments_decline_above: int = 100_000_000
    payments_failure_rate: float = 0.0
    payments_ledger_path: str = ""
    payments_latency_ms: int = 0
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

    def as_config(self) -> dict[str, Any]:
        data = asdict(self)
        data["storage"] = self.storage
        data["delivery"] = self.delivery
        return data

    @staticmethod
    def from_env(env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        defaults = Settings()

        def text(name: str, default: str) -> str:
            return env.get(f"ORDERLY_{name}", default).strip() or default

        def integer(name: str, default: int, low: int, high: int | None = None) -> int:
            raw = env.get(f"ORDERLY_{name}")
            if raw is None or not raw.strip():
                return default
            try:
                value = int(raw)
            except ValueError:
                raise ConfigError(f"ORDERLY_{name} must be an integer, got {raw!r}") from None
            if value < low or (high is not None and value > high):
                bound = f">= {low}" if high is None else f"{low}-{high}"
                raise ConfigError(f"ORDERLY_{name} must be {bound}, got {value}")
            return value

        def fraction(name: str, default: float) -> float:
            raw = env.get(f"ORDERLY_{name}")
            if raw is None or not raw.strip():
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ConfigError(f"ORDERLY_{name} must be a number, got {raw!r}") from None
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"ORDERLY_{name} must be between 0 and 1, got {value}")
            return value

        def seconds(name: str, default: float, low: float, high: float) -> float:
            raw = env.get(f"ORDERLY_{name}")
            if raw is None or not raw.strip():
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ConfigError(
                    f"ORDERLY_{name} must be a number of seconds, got {raw!r}"
                ) from None
            if not low <= value <= high:  # NaN fails too
                raise ConfigError(f"ORDERLY_{name} must be {low:g}-{high:g} seconds, got {raw!r}")
            return value

        database_url = text("DATABASE_URL", defaults.database_url)
        _check_database_url(database_url)
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
        sweep = integer("SWEEP_INTERVAL_SECONDS", int(defaults.sweep_interval_seconds), 1)
        redis_url = text("REDIS_URL", "")
        if redis_url and urlparse(redis_url).scheme not in {"redis", "rediss", "unix"}:
            raise ConfigError(
                f"ORDERLY_REDIS_URL must look like redis://host:6379/0, got {redis_url!r}"
            )
        return Settings(
            database_url=database_url,
            messaging=messaging,
            rabbitmq_url=rabbitmq_url,
            currency=currency,
            payment_timeout_seconds=integer(
                "PAYMENT_TIMEOUT_SECONDS", defaults.payment_timeout_seconds, 1
            ),
            payments_decline_above=integer(
                "PAYMENTS_DECLINE_ABOVE", defaults.payments_decline_above, 0
            ),
            payments_failure_rate=fraction("PAYMENTS_FAILURE_RATE", defaults.payments_failure_rate),
            payments_ledger_path=text("PAYMENTS_LEDGER_PATH", ""),
            payments_latency_ms=integer(
                "PAYMENTS_LATENCY_MS", defaults.payments_latency_ms, 0, 600_000
            ),
            payments_timeout_seconds=seconds(
                "PAYMENTS_TIMEOUT_SECONDS", defaults.payments_timeout_seconds, 0.001, 3600
            ),
            payments_breaker_failures=integer(
                "PAYMENTS_BREAKER_FAILURES", defaults.payments_breaker_failures, 1, 1_000_000
            ),
            payments_breaker_cooldown_seconds=seconds(
                "PAYMENTS_BREAKER_COOLDOWN_SECONDS",
                defaults.payments_breaker_cooldown_seconds,
                0.0,
                86_400,
            ),
            max_delivery_attempts=integer(
                "MAX_DELIVERY_ATTEMPTS", defaults.max_delivery_attempts, 1, 100
            ),
            retry_delay_ms=integer("RETRY_DELAY_MS", defaults.retry_delay_ms, 10, 3_600_000),
            rabbitmq_prefetch=integer("RABBITMQ_PREFETCH", defaults.rabbitmq_prefetch, 1, 10_000),
            relay_batch_size=integer("RELAY_BATCH_SIZE", defaults.relay_batch_size, 1, 10_000),
            outbox_lease_seconds=seconds(
                "OUTBOX_LEASE_SECONDS", defaults.outbox_lease_seconds, 1, 86_400
            ),
            rate_limit_per_minute=integer(
                "RATE_LIMIT_PER_MINUTE", defaults.rate_limit_per_minute, 1
            ),
            redis_url=redis_url,
            sweep_interval_seconds=float(sweep),
            log_level=log_level,
            webhook_timeout_seconds=seconds(
                "WEBHOOK_TIMEOUT_SECONDS", defaults.webhook_timeout_seconds, 0.01, 300
            ),
            webhook_retry_base_seconds=seconds(
                "WEBHOOK_RETRY_BASE_SECONDS", defaults.webhook_retry_base_seconds, 0.001, 86_400
            ),
            webhook_max_attempts=integer(
                "WEBHOOK_MAX_ATTEMPTS", defaults.webhook_max_attempts, 1, 100
            ),
            webhook_breaker_failures=integer(
                "WEBHOOK_BREAKER_FAILURES", defaults.webhook_breaker_failures, 1, 10_000
            ),
            webhook_breaker_cooldown_seconds=seconds(
                "WEBHOOK_BREAKER_COOLDOWN_SECONDS",
                defaults.webhook_breaker_cooldown_seconds,
                0.001,
                86_400,
            ),
            webhooks_allow_private_networks=allow_private in {"true", "1", "yes"},
        )


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
