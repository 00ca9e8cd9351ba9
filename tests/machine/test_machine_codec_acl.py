from quorumd import machine as m


def test_open_and_other_acls_survive_the_txn_codec() -> None:
    for acl in (m.OPEN_ACL_UNSAFE, m.READ_ACL_UNSAFE, (m.ACL(31, "digest", "u:x"),)):
        txn = m.Txn(1, 2, 3, 4, m.Create("/a", b"x", acl, 0))
        back = m.decode_txn(m.encode_txn(txn))
        assert back == txn
