"""ACLs: digest ids, ip matching, fixupACL and the permission each op needs."""

from __future__ import annotations

import pytest
from machine_helpers import OPEN, Driver

from quorumd import errors
from quorumd.machine import (
    ACL,
    CREATOR_ALL_ACL,
    AddAuth,
    Check,
    Create,
    CreateMode,
    Delete,
    Perms,
    SetACL,
    SetData,
    StateMachine,
    digest_id,
)
from quorumd.machine.acl import check_perm, fixup_acl, ip_matches

# Vectors from Apache ZooKeeper's own sources (password "test" in both):
# zookeeper-server/pom.xml superDigest and ZooKeeperTest.java's deleteProtection ACL.
SUPER_TEST = "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
USER_TEST = "user:tl+z3z0vO6PfPfEENfLF96E6pM0="


def test_digest_matches_zookeeper_vectors() -> None:
    assert digest_id("super", "test") == SUPER_TEST
    assert digest_id("user", "test") == USER_TEST


@pytest.mark.parametrize(
    ("client", "expr", "expected"),
    [
        ("10.1.2.3", "10.1.2.3", True),
        ("10.1.2.3", "10.1.2.4", False),
        ("10.1.2.3", "10.0.0.0/8", True),
        ("11.1.2.3", "10.0.0.0/8", False),
        ("10.1.2.3", "10.1.2.0/24", True),
        ("10.1.3.3", "10.1.2.0/23", True),
        ("10.1.4.3", "10.1.2.0/23", False),
        ("1.2.3.4", "0.0.0.0/0", True),
        ("10.1.2.3", "10.1.2.3/33", False),
        ("10.1.2.3", "10.1.2/24", False),
        ("::1", "::1", True),
        ("0:0:0:0:0:0:0:1", "::1", True),
        ("fe80::1", "fe80::/16", True),
        ("fe81::1", "fe80::/16", False),
        ("::1", "127.0.0.1", False),
        ("10.1.2.3", "not-an-ip", False),
    ],
)
def test_ip_matching(client: str, expr: str, expected: bool) -> None:
    assert ip_matches(client, expr) is expected


def test_fixup_acl_rules() -> None:
    digest = [("digest", USER_TEST), ("ip", "10.0.0.1")]
    world = ACL(Perms.ALL, "world", "anyone")
    assert fixup_acl("/p", [], [world, world]) == (world,)
    assert fixup_acl("/p", digest, CREATOR_ALL_ACL) == (ACL(Perms.ALL, "digest", USER_TEST),)
    assert fixup_acl("/p", [], [ACL(1, "ip", "10.0.0.0/8")]) == (ACL(1, "ip", "10.0.0.0/8"),)
    invalid = [
        [],
        [ACL(1, "world", "everyone")],
        [ACL(1, "digest", "nocolon")],
        [ACL(1, "digest", "a:b:c")],
        [ACL(1, "ip", "10.0.0.0/40")],
        [ACL(1, "x509", "CN=me")],
    ]
    for acl in invalid:
        with pytest.raises(errors.InvalidACL):
            fixup_acl("/p", digest, acl)
    with pytest.raises(errors.InvalidACL):  # ip ids are not "authenticated" ids
        fixup_acl("/p", [("ip", "10.0.0.1")], CREATOR_ALL_ACL)


def test_check_perm_basics() -> None:
    acl = (ACL(Perms.READ | Perms.WRITE, "digest", USER_TEST), ACL(Perms.READ, "ip", "10.0.0.0/8"))
    assert check_perm(acl, Perms.WRITE, [("digest", USER_TEST)], False)
    assert not check_perm(acl, Perms.ADMIN, [("digest", USER_TEST)], False)
    assert check_perm(acl, Perms.READ, [("ip", "10.9.9.9")], False)
    assert not check_perm(acl, Perms.WRITE, [("ip", "10.9.9.9")], False)
    assert not check_perm(acl, Perms.READ, [("digest", SUPER_TEST)], False)
    assert check_perm(acl, Perms.ADMIN, [], True)
    assert check_perm((), Perms.ADMIN, [], False)


@pytest.fixture
def d() -> Driver:
    driver = Driver(StateMachine(super_digest=SUPER_TEST))
    driver.session(1)  # the owner, digest user
    driver.session(2)  # anonymous
    driver.ok(AddAuth(1, "digest", USER_TEST))
    return driver


def _only(perms: int) -> tuple[ACL, ...]:
    return (ACL(perms, "digest", USER_TEST),)


def test_auth_acl_expands_to_the_session_digest(d: Driver) -> None:
    created = d.ok(Create("/mine", b"", CREATOR_ALL_ACL))
    assert d.machine.get_acl(created.path)[0] == (ACL(Perms.ALL, "digest", USER_TEST),)  # type: ignore[attr-defined]
    result = d.apply(Create("/theirs", b"", CREATOR_ALL_ACL), session_id=2).result
    assert isinstance(result, errors.InvalidACL)


@pytest.mark.parametrize(
    ("needed", "op", "on"),
    [
        (Perms.CREATE, Create("/n/child", b"", OPEN), "/n"),
        (Perms.DELETE, Delete("/n/leaf"), "/n"),
        (Perms.WRITE, SetData("/n", b"x"), "/n"),
        (Perms.ADMIN, SetACL("/n", OPEN), "/n"),
        (Perms.READ, Check("/n", -1), "/n"),
    ],
)
def test_each_write_needs_its_permission(d: Driver, needed: int, op: object, on: str) -> None:
    d.create("/n")
    d.create("/n/leaf")
    everything_else = Perms.ALL & ~needed
    d.ok(SetACL(on, _only(everything_else)))
    assert isinstance(d.apply(op).result, errors.NoAuth)  # type: ignore[arg-type]
    assert isinstance(d.apply(op, session_id=2).result, errors.NoAuth)  # type: ignore[arg-type]
    d.machine._tree.nodes[on].acl = _only(needed)
    assert not isinstance(d.apply(op).result, errors.NoAuth)  # type: ignore[arg-type]


def test_reads_check_read_permission(d: Driver) -> None:
    d.ok(Create("/secret", b"s", _only(Perms.READ | Perms.ADMIN)))
    assert d.machine.get_data("/secret", 1)[0] == b"s"
    assert d.machine.get_children("/secret", 1)[0] == []
    for read in (d.machine.get_data, d.machine.get_children, d.machine.exists):
        with pytest.raises(errors.NoAuth):
            read("/secret", 2)
    with pytest.raises(errors.NoAuth):
        d.machine.get_all_children_number("/secret", 2)
    with pytest.raises(errors.NoAuth):
        d.machine.get_acl("/secret", 2)
    assert d.machine.get_data("/secret", None)[0] == b"s"  # internal reads skip ACLs


def test_get_acl_masks_digests_without_admin(d: Driver) -> None:
    d.ok(Create("/r", b"", (*_only(Perms.READ), ACL(Perms.READ, "world", "anyone"))))
    acl, _ = d.machine.get_acl("/r", 2)
    assert acl[0] == ACL(Perms.READ, "digest", "user:x")
    d.ok(Create("/a", b"", (*_only(Perms.ADMIN), ACL(Perms.READ, "world", "anyone"))))
    assert d.machine.get_acl("/a", 1)[0][0] == ACL(Perms.ADMIN, "digest", USER_TEST)


def test_super_user_passes_everything(d: Driver) -> None:
    d.ok(Create("/locked", b"", _only(Perms.READ)))
    assert isinstance(d.apply(SetData("/locked", b"x")).result, errors.NoAuth)
    assert isinstance(d.apply(SetData("/zookeeper/config", b"x")).result, errors.NoAuth)
    d.ok(AddAuth(2, "digest", SUPER_TEST))
    d.ok(SetData("/locked", b"x"), session_id=2)
    d.ok(SetData("/zookeeper/config", b"x"), session_id=2)
    assert d.machine.check_perm(2, _only(Perms.READ), Perms.ADMIN)
    assert not d.machine.check_perm(1, _only(Perms.READ), Perms.ADMIN)


def test_super_digest_is_configuration(d: Driver) -> None:
    d.ok(AddAuth(2, "digest", SUPER_TEST))
    plain = StateMachine.restore(d.machine.snapshot())  # no super_digest configured
    assert not plain.check_perm(2, _only(Perms.READ), Perms.READ)
    configured = StateMachine.restore(d.machine.snapshot(), super_digest=SUPER_TEST)
    assert configured.check_perm(2, _only(Perms.READ), Perms.READ)


def test_add_auth_rules(d: Driver) -> None:
    assert isinstance(d.apply(AddAuth(99, "digest", USER_TEST)).result, errors.SessionExpired)
    assert isinstance(d.apply(AddAuth(1, "", "x")).result, errors.AuthFailed)
    d.ok(AddAuth(1, "digest", USER_TEST))  # duplicate: kept once
    d.ok(AddAuth(1, "ip", "10.0.0.7"))
    info = d.machine.session(1)
    assert info is not None and info.auth == (("digest", USER_TEST), ("ip", "10.0.0.7"))


def test_ip_acl_enforced(d: Driver) -> None:
    d.ok(AddAuth(2, "ip", "192.168.1.20"))
    d.ok(Create("/lan", b"", (ACL(Perms.ALL, "ip", "192.168.1.0/24"),)))
    d.ok(SetData("/lan", b"x"), session_id=2)
    assert isinstance(d.apply(SetData("/lan", b"y"), session_id=1).result, errors.NoAuth)


def test_ephemeral_create_under_acl_uses_session_as_owner(d: Driver) -> None:
    path = d.create("/e", mode=CreateMode.EPHEMERAL, session_id=2)
    assert d.machine.exists(path).ephemeral_owner == 2  # type: ignore[union-attr]
