"""Principals and who sees what (docs/domain.md: Principals)."""

from __future__ import annotations

import base64
import hashlib

import pytest

from core.domain.errors import AlreadyExists, AuthenticationFailed, NotFound, ValidationError
from core.domain.principals import Role
from core.use_cases.principals import CreatedPrincipal
from core.use_cases.support import Actor
from tests.unit.shop import Shop


def _create(shop: Shop, name: str, role: str = "customer") -> CreatedPrincipal:
    created: CreatedPrincipal = shop.c.create_principal()(name, role)
    return created


def _authenticate(shop: Shop, api_key: str) -> Actor:
    actor: Actor = shop.c.authenticate()(api_key)
    return actor


def test_a_key_is_random_shown_once_and_stored_only_as_a_hash(shop: Shop) -> None:
    alice = _create(shop, "alice", "customer")
    other = _create(shop, "bob", "customer")
    assert (alice.name, alice.role) == ("alice", Role.CUSTOMER)
    raw = base64.urlsafe_b64decode(alice.api_key + "=" * (-len(alice.api_key) % 4))
    assert len(raw) >= 32
    assert alice.api_key != other.api_key
    stored = shop.store.principals[alice.id]
    assert stored.key_hash == hashlib.sha256(alice.api_key.encode()).hexdigest()
    assert alice.api_key not in repr(vars(stored))
    # Nothing the read side returns carries the key or its hash.
    (listed,) = [p for p in shop.c.list_principals()() if p.name == "alice"]
    assert alice.api_key not in repr(listed) and stored.key_hash not in repr(listed)


def test_authenticate_maps_a_key_to_its_principal(shop: Shop) -> None:
    admin = _create(shop, "ops@example", "admin")
    alice = _create(shop, "alice", "customer")
    assert _authenticate(shop, admin.api_key) == Actor(admin.id, Role.ADMIN)
    assert _authenticate(shop, alice.api_key) == Actor(alice.id, Role.CUSTOMER)


@pytest.mark.parametrize("key", ["", "not-a-key", " ", "\udcff", "ключ", "\x00"])
def test_unknown_keys_fail(shop: Shop, key: str) -> None:
    alice = _create(shop, "alice")
    with pytest.raises(AuthenticationFailed):
        _authenticate(shop, key)
    with pytest.raises(AuthenticationFailed):
        _authenticate(shop, alice.api_key + "x")


def test_revoking_makes_the_key_fail(shop: Shop) -> None:
    alice = _create(shop, "alice")
    bob = _create(shop, "bob")
    assert shop.c.revoke_principal()("alice") is True
    with pytest.raises(AuthenticationFailed, match="revoked"):
        _authenticate(shop, alice.api_key)
    assert shop.c.revoke_principal()("alice") is False  # already revoked
    assert _authenticate(shop, bob.api_key).principal_id == bob.id
    with pytest.raises(NotFound):
        shop.c.revoke_principal()("nobody")
    (listed,) = [p for p in shop.c.list_principals()() if p.name == "alice"]
    assert listed.active is False and listed.revoked_at is not None


def test_a_name_is_unique(shop: Shop) -> None:
    first = _create(shop, "alice")
    with pytest.raises(AlreadyExists):
        _create(shop, "alice", "admin")
    assert len(shop.store.principals) == 1
    assert _authenticate(shop, first.api_key).role is Role.CUSTOMER
    # A revoked name stays taken: its orders still belong to it.
    shop.c.revoke_principal()("alice")
    with pytest.raises(AlreadyExists):
        _create(shop, "alice")


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("", "customer"),
        ("has space", "customer"),
        ("-dash", "customer"),
        ("n" * 65, "customer"),
        ("alice\n", "customer"),
        ("alice", "root"),
        ("alice", ""),
    ],
)
def test_invalid_name_or_role_is_refused(shop: Shop, name: str, role: str) -> None:
    with pytest.raises(ValidationError):
        _create(shop, name, role)
    assert shop.store.principals == {}


# Who sees which orders ------------------------------------------------------------------


def test_customers_see_only_their_own_orders_and_admins_see_all(shop: Shop) -> None:
    admin = _authenticate(shop, _create(shop, "ops", "admin").api_key)
    alice = _authenticate(shop, _create(shop, "alice").api_key)
    bob = _authenticate(shop, _create(shop, "bob").api_key)
    shop.product("AB-1", on_hand=10)
    alices = shop.place({"AB-1": 1}, alice)
    bobs = shop.place({"AB-1": 1}, bob)
    orders = shop.c.order_queries()

    assert orders.get(alices, alice).id == alices
    with pytest.raises(NotFound):  # 404, not 403: another's order does not exist for you
        orders.get(bobs, alice)
    with pytest.raises(NotFound):
        orders.events(bobs, alice)
    with pytest.raises(NotFound):
        shop.cancel(bobs, alice)
    assert shop.order(bobs).status == "paid"

    assert [o.id for o in orders.page(alice).items] == [alices]
    # A customer's customer_id filter cannot widen the view.
    assert [o.id for o in orders.page(alice, customer_id=bob.principal_id).items] == [alices]
    assert [o.id for o in orders.page(admin).items] == [bobs, alices]
    assert [o.id for o in orders.page(admin, customer_id=bob.principal_id).items] == [bobs]
    assert orders.get(alices, admin).customer_id == alice.principal_id
    assert [e.type for e in orders.events(alices, admin)] == ["OrderPlaced", "OrderPaid"]
