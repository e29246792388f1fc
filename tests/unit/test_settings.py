"""Settings.from_env: defaults, and a clear ConfigError naming each bad variable (README)."""

from __future__ import annotations

import dataclasses

import pytest

from entrypoints.settings import ConfigError, Settings


def test_defaults_with_an_empty_environment() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert (settings.database_url, settings.storage, settings.delivery) == (
        "sqlite:///orderly.db",
        "sql",
        "background",
    )
    assert (settings.currency, settings.payment_timeout_seconds) == ("EUR", 900)
    assert (settings.payments_decline_above, settings.payments_failure_rate) == (100_000_000, 0.0)
    assert settings.max_delivery_attempts == 5
    assert settings.database_inline_reads == "auto"


def test_values_are_read_and_selected() -> None:
    settings = Settings.from_env(
        {
            "ORDERLY_DATABASE_URL": "memory://",
            "ORDERLY_CURRENCY": "USD",
            "ORDERLY_PAYMENT_TIMEOUT_SECONDS": " 60 ",
            "ORDERLY_PAYMENTS_DECLINE_ABOVE": "0",
            "ORDERLY_PAYMENTS_FAILURE_RATE": "0.25",
            "ORDERLY_MESSAGING": "RabbitMQ",
            "ORDERLY_LOG_LEVEL": "debug",
            "ORDERLY_DATABASE_INLINE_READS": " False ",
            "ORDERLY_UNRELATED": "ignored",
        }
    )
    assert (settings.storage, settings.delivery, settings.messaging) == (
        "memory",
        "rabbitmq",
        "rabbitmq",
    )
    assert (settings.currency, settings.payment_timeout_seconds) == ("USD", 60)
    assert (settings.payments_decline_above, settings.payments_failure_rate) == (0, 0.25)
    assert settings.log_level == "DEBUG"
    assert settings.database_inline_reads == "false"
    assert Settings.from_env({"ORDERLY_DATABASE_URL": "memory://"}).delivery == "sync"


def test_blank_values_fall_back_to_the_defaults() -> None:
    assert Settings.from_env({"ORDERLY_CURRENCY": "  ", "ORDERLY_PAYMENT_TIMEOUT_SECONDS": ""}) == (
        Settings()
    )


BAD = [
    ("DATABASE_URL", "mysql://db/orders"),
    ("DATABASE_URL", "memory://somewhere"),
    ("DATABASE_URL", "sqlite:/relative.db"),
    ("DATABASE_URL", "postgresql:///orders"),
    ("DATABASE_URL", "not a url"),
    ("MESSAGING", "kafka"),
    ("DATABASE_INLINE_READS", "sometimes"),
    ("RABBITMQ_URL", "http://127.0.0.1:5672/"),
    ("RABBITMQ_URL", "amqp://"),
    ("CURRENCY", "eur"),
    ("CURRENCY", "EURO"),
    ("CURRENCY", "€"),
    ("LOG_LEVEL", "LOUD"),
    ("PAYMENT_TIMEOUT_SECONDS", "0"),
    ("PAYMENT_TIMEOUT_SECONDS", "-5"),
    ("PAYMENT_TIMEOUT_SECONDS", "15m"),
    ("PAYMENT_TIMEOUT_SECONDS", "1.5"),
    ("PAYMENTS_DECLINE_ABOVE", "-1"),
    ("PAYMENTS_DECLINE_ABOVE", "lots"),
    ("PAYMENTS_FAILURE_RATE", "1.5"),
    ("PAYMENTS_FAILURE_RATE", "-0.1"),
    ("PAYMENTS_FAILURE_RATE", "half"),
    ("PAYMENTS_FAILURE_RATE", "nan"),
    ("PAYMENTS_FAILURE_RATE", "inf"),
    ("MAX_DELIVERY_ATTEMPTS", "0"),
    ("MAX_DELIVERY_ATTEMPTS", "101"),
    ("RATE_LIMIT_PER_MINUTE", "0"),
    ("SWEEP_INTERVAL_SECONDS", "never"),
]


@pytest.mark.parametrize(("name", "value"), BAD, ids=[f"{n}={v}" for n, v in BAD])
def test_a_bad_value_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"ORDERLY_{name}"):
        Settings.from_env({f"ORDERLY_{name}": value})


NUMERIC = [f.name for f in dataclasses.fields(Settings) if type(f.default) in (int, float)]


@pytest.mark.parametrize("field", NUMERIC)
def test_every_numeric_setting_is_validated(field: str) -> None:
    """Catches a numeric setting added without validation (or not read at all)."""
    variable = f"ORDERLY_{field.upper()}"
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env({variable: "not-a-number"})
