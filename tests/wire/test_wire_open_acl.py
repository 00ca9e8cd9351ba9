from quorumd import wire as w
from quorumd.wire.jute import Reader, Writer
from quorumd.wire.records import OPEN_ACL, read_acls, write_acls


def _roundtrip(acl: tuple[w.ACL, ...]) -> tuple[w.ACL, ...]:
    wr = Writer()
    write_acls(wr, acl)
    wr.write_int(7)  # a field after the ACLs must still be read correctly
    r = Reader(bytes(wr.buf))
    out = read_acls(r)
    assert r.read_int() == 7
    return out


def test_open_acl_decodes_to_the_shared_tuple() -> None:
    assert _roundtrip((w.ACL(31, w.Id("world", "anyone")),)) is OPEN_ACL


def test_other_acls_decode_field_by_field() -> None:
    acl = (w.ACL(1, w.Id("world", "anyone")), w.ACL(31, w.Id("digest", "u:x")))
    assert _roundtrip(acl) == acl
    assert _roundtrip((w.ACL(30, w.Id("world", "anyone")),)) == (
        w.ACL(30, w.Id("world", "anyone")),
    )
