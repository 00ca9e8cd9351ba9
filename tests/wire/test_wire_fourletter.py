"""Four-letter words render in ZooKeeper 3.8's layouts (see server/command/*.java)."""

from __future__ import annotations

import re

import pytest

from quorumd.wire.fourletter import (
    ZK_NOT_SERVING,
    ConnectionStats,
    ServerStats,
    SessionExpiryBucket,
    render,
)

CONN = ConnectionStats(
    "/127.0.0.1:50312",
    queued=0,
    received=12,
    sent=11,
    session_id=0x100000A2B3C0000,
    last_operation="GETD",
    established_ms=1700000000000,
    timeout_ms=30000,
    last_cxid=0x1F,
    last_zxid=0x2A,
    last_response_ms=1700000000500,
    last_latency_ms=1,
    min_latency_ms=0,
    avg_latency_ms=0.5,
    max_latency_ms=3,
)
STATS = ServerStats(
    "0.1.0",
    build_date="2024-05-01 10:00 UTC",
    mode="leader",
    server_id=1,
    latency_min_ms=0,
    latency_avg_ms=1.25,
    latency_max_ms=9,
    packets_received=120,
    packets_sent=119,
    outstanding_requests=2,
    last_zxid=0x10000002A,
    node_count=7,
    connections=(CONN, ConnectionStats("/10.0.0.2:4000")),
    watches_by_session=((0x10, ("/a", "/b")), (0x11, ("/a",))),
    ephemerals_by_session=((0x10, ("/lock/x",)),),
    session_expiry=(SessionExpiryBucket(0, (0x10, 0x11)),),
    learners=2,
    synced_followers=2,
    peers=("server.1=10.0.0.1:2888:3888:participant;0.0.0.0:2181",),
)


def test_ruok_and_isro() -> None:
    assert render("ruok", STATS) == "imok"
    assert render("isro", STATS) == "rw"
    assert render("isro", ServerStats("0.1.0", read_only=True)) == "ro"


def test_srvr_layout() -> None:
    assert render("srvr", STATS) == (
        "Zookeeper version: 3.8.4-quorumd-0.1.0, built on 2024-05-01 10:00 UTC\n"
        "Latency min/avg/max: 0/1.25/9\n"
        "Received: 120\n"
        "Sent: 119\n"
        "Connections: 2\n"
        "Outstanding: 2\n"
        "Zxid: 0x10000002a\n"
        "Mode: leader\n"
        "Node count: 7\n"
        "Proposal sizes last/min/max: -1/-1/-1\n"
    )


def test_stat_lists_clients_briefly() -> None:
    text = render("stat", STATS)
    assert text.startswith(
        "Zookeeper version: 3.8.4-quorumd-0.1.0, built on 2024-05-01 10:00 UTC\n"
        "Clients:\n"
        " /127.0.0.1:50312[1](queued=0,recved=12,sent=11)\n"
        " /10.0.0.2:4000[1](queued=0,recved=0,sent=0)\n"
        "\n"
        "Latency min/avg/max: 0/1.25/9\n"
    )
    assert "Mode: leader\n" in text


def test_cons_full_connection_line() -> None:
    assert render("cons", STATS) == (
        " /127.0.0.1:50312[1](queued=0,recved=12,sent=11,sid=0x100000a2b3c0000,lop=GETD,"
        "est=1700000000000,to=30000,lcxid=0x1f,lzxid=0x2a,lresp=1700000000500,llat=1,"
        "minlat=0,avglat=0.5,maxlat=3)\n"
        " /10.0.0.2:4000[1](queued=0,recved=0,sent=0)\n"
        "\n"
    )


def test_mntr_is_tab_separated_with_zk_prefix() -> None:
    lines = render("mntr", STATS).splitlines()
    pairs = dict(line.split("\t") for line in lines)
    assert all(re.fullmatch(r"zk_[a-z_]+", key) for key in pairs)
    assert pairs["zk_version"] == "3.8.4-quorumd-0.1.0, built on 2024-05-01 10:00 UTC"
    assert pairs["zk_server_state"] == "leader"
    assert pairs["zk_avg_latency"] == "1.25"
    assert pairs["zk_num_alive_connections"] == "2"
    assert pairs["zk_watch_count"] == "3"
    assert pairs["zk_ephemerals_count"] == "1"
    assert pairs["zk_synced_followers"] == "2"
    follower = dict(
        line.split("\t")
        for line in render("mntr", ServerStats("0.1.0", mode="follower")).splitlines()
    )
    assert "zk_synced_followers" not in follower


def test_envi_carries_both_versions_for_clients_that_parse_it() -> None:
    stats = ServerStats("0.1.0", environment=(("host.name", "node1"),))
    assert render("envi", stats) == (
        "Environment:\n"
        "zookeeper.version=3.8.4-quorumd-0.1.0, built on unknown\n"
        "quorumd.version=0.1.0\n"
        "host.name=node1\n"
    )


def test_conf_with_membership() -> None:
    text = render("conf", STATS)
    assert text.startswith("clientPort=2181\nsecureClientPort=-1\n")
    assert "tickTime=2000\n" in text
    assert "serverId=1\n" in text
    assert text.endswith("membership: \nserver.1=10.0.0.1:2888:3888:participant;0.0.0.0:2181\n")


def test_watch_words() -> None:
    assert render("wchs", STATS) == "2 connections watching 2 paths\nTotal watches:3\n"
    assert render("wchc", STATS) == "0x10\n\t/a\n\t/b\n0x11\n\t/a\n\n"
    assert render("wchp", STATS) == "/a\n\t0x10\n\t0x11\n/b\n\t0x10\n\n"


def test_dump_layout() -> None:
    assert render("dump", STATS) == (
        "SessionTracker dump:\n"
        "Session Sets (1)/(2):\n"
        "2 expire at Thu Jan 01 00:00:00 UTC 1970:\n"
        "\t0x10\n"
        "\t0x11\n"
        "ephemeral nodes dump:\n"
        "Sessions with Ephemerals (1):\n"
        "0x10:\n"
        "\t/lock/x\n"
        "Connections dump:\n"
    )


def test_negative_ids_print_as_java_unsigned_hex() -> None:
    stats = ServerStats("0.1.0", last_zxid=-1)
    assert "Zxid: 0xffffffffffffffff\n" in render("srvr", stats)


@pytest.mark.parametrize(
    ("value", "text"), [(0.0, "0.0"), (1.5, "1.5"), (12345678.0, "1.2345678E7")]
)
def test_latency_average_prints_like_java(value: float, text: str) -> None:
    stats = ServerStats("0.1.0", latency_avg_ms=value)
    assert f"Latency min/avg/max: 0/{text}/0\n" in render("srvr", stats)


def test_whitelist_and_unknown_words() -> None:
    assert render("stat", STATS, whitelist={"ruok"}) == (
        "stat is not executed because it is not in the whitelist.\n"
    )
    assert render("stat", STATS, whitelist={"*"}).startswith("Zookeeper version")
    assert render("gtmk", STATS) == "gtmk is not executed because it is not in the whitelist.\n"


def test_not_serving() -> None:
    stats = ServerStats("0.1.0", serving=False)
    assert render("srvr", stats) == ZK_NOT_SERVING + "\n"
    assert render("ruok", stats) == "imok"
    assert render("isro", stats) == "null"
    assert render("envi", stats).startswith("Environment:\n")
