"""Four-letter admin words, rendered as ZooKeeper 3.8 renders them.

Monitoring scripts, zkServer.sh, Exhibitor-style tools and kazoo's `server_version()`
parse this text, so the layout follows ZooKeeper's server/command/*Command.java,
ServerStats.toString and ServerCnxn.dumpConnectionInfo line for line. Every word is a
pure function of a `ServerStats` snapshot the server assembles; nothing here reads a
clock or the OS. `render(word, stats)` is the entry point; words outside `whitelist`
get ZooKeeper's "not in the whitelist" answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = [
    "DEFAULT_WHITELIST",
    "ZK_NOT_SERVING",
    "ConnectionStats",
    "ServerStats",
    "SessionExpiryBucket",
    "full_version",
    "render",
]

ZK_NOT_SERVING = "This ZooKeeper instance is not currently serving requests"
#: ZooKeeper's default `4lw.commands.whitelist` is just srvr; quorumd answers every word
#: it implements unless the operator narrows it.
DEFAULT_WHITELIST = frozenset(
    {"ruok", "srvr", "stat", "mntr", "conf", "cons", "envi", "wchs", "wchc", "wchp", "dump", "isro"}
)


@dataclass(frozen=True, slots=True)
class ConnectionStats:
    """One client connection, as `cons`/`stat` print it (ServerCnxn fields)."""

    remote_address: str  # Java's InetSocketAddress form: "/127.0.0.1:50312"
    interest_ops: int = 1
    queued: int = 0
    received: int = 0
    sent: int = 0
    session_id: int = 0
    last_operation: str = "NA"
    established_ms: int = 0
    timeout_ms: int = 0
    last_cxid: int = -1
    last_zxid: int = -1
    last_response_ms: int = 0
    last_latency_ms: int = 0
    min_latency_ms: int = 0
    avg_latency_ms: float = 0.0
    max_latency_ms: int = 0


@dataclass(frozen=True, slots=True)
class SessionExpiryBucket:
    """Sessions that expire at the same tick boundary (ExpiryQueue, for `dump`)."""

    expire_at_ms: int  # wall-clock ms since the epoch
    session_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ServerStats:
    """A snapshot of everything the four-letter words report."""

    quorumd_version: str
    zookeeper_version: str = "3.8.4"
    build_date: str = "unknown"
    serving: bool = True
    read_only: bool = False
    mode: str = "standalone"  # leader | follower | observer | standalone | read-only
    server_id: int = 0
    latency_min_ms: int = 0
    latency_avg_ms: float = 0.0
    latency_max_ms: int = 0
    packets_received: int = 0
    packets_sent: int = 0
    outstanding_requests: int = 0
    last_zxid: int = 0
    node_count: int = 0
    approximate_data_size: int = 0
    uptime_ms: int = 0
    global_sessions: int = 0
    local_sessions: int = 0
    connections: tuple[ConnectionStats, ...] = ()
    watches_by_session: tuple[tuple[int, tuple[str, ...]], ...] = ()
    ephemerals_by_session: tuple[tuple[int, tuple[str, ...]], ...] = ()
    session_expiry: tuple[SessionExpiryBucket, ...] = ()
    # Leader-only gauges (mntr).
    learners: int = 0
    synced_followers: int = 0
    synced_observers: int = 0
    pending_syncs: int = 0
    # conf
    client_port: int = 2181
    secure_client_port: int = -1
    data_dir: str = ""
    data_dir_size: int = 0
    data_log_dir: str = ""
    data_log_size: int = 0
    tick_time_ms: int = 2000
    max_client_cnxns: int = 60
    min_session_timeout_ms: int = 4000
    max_session_timeout_ms: int = 40000
    client_port_listen_backlog: int = -1
    extra_conf: tuple[tuple[str, str], ...] = ()
    peers: tuple[str, ...] = ()  # "server.1=host:port:port:participant;host:port" lines
    environment: tuple[tuple[str, str], ...] = ()  # extra envi lines (host.name, ...)
    # quorumd's own gauges, appended to mntr as `quorumd_<key>` (term, commit, lag, ...)
    extra_metrics: tuple[tuple[str, str], ...] = ()


def full_version(stats: ServerStats) -> str:
    """ZooKeeper's Version.getFullVersion shape, "<version>-<revision>, built on <date>",
    with quorumd as the revision: clients read the leading 3.8.4 and stop there."""
    return f"{stats.zookeeper_version}-quorumd-{stats.quorumd_version}, built on {stats.build_date}"


def _hex(value: int) -> str:
    """Java's Long.toHexString: two's complement, no leading zeros."""
    return format(value & 0xFFFF_FFFF_FFFF_FFFF, "x")


def _java_double(value: float) -> str:
    """Java's Double.toString for the magnitudes latencies take."""
    if value != 0 and not 1e-3 <= abs(value) < 1e7:
        mantissa, exponent = f"{value:.16E}".split("E")
        mantissa = mantissa.rstrip("0")
        if mantissa.endswith("."):
            mantissa += "0"
        return f"{mantissa}E{int(exponent)}"
    return repr(float(value))


def _java_date(ms: int) -> str:
    """java.util.Date.toString in UTC, e.g. "Thu Jan 01 00:00:00 UTC 1970"."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%a %b %d %H:%M:%S UTC %Y")


def _connection_line(c: ConnectionStats, brief: bool) -> str:
    parts = [
        f" {c.remote_address}[{'0' if c.interest_ops == 0 else format(c.interest_ops, 'x')}]",
        f"(queued={c.queued},recved={c.received},sent={c.sent}",
    ]
    if not brief and c.session_id != 0:
        parts.append(
            f",sid=0x{_hex(c.session_id)},lop={c.last_operation},est={c.established_ms}"
            f",to={c.timeout_ms}"
        )
        if c.last_cxid >= 0:
            parts.append(f",lcxid=0x{_hex(c.last_cxid)}")
        parts.append(
            f",lzxid=0x{_hex(c.last_zxid)},lresp={c.last_response_ms},llat={c.last_latency_ms}"
            f",minlat={c.min_latency_ms},avglat={_java_double(c.avg_latency_ms)}"
            f",maxlat={c.max_latency_ms}"
        )
    parts.append(")")
    return "".join(parts)


def ruok(stats: ServerStats) -> str:
    return "imok"


def isro(stats: ServerStats) -> str:
    if not stats.serving:
        return "null"
    return "ro" if stats.read_only else "rw"


def _stat_common(stats: ServerStats, with_clients: bool) -> str:
    out = [f"Zookeeper version: {full_version(stats)}\n"]
    if stats.read_only:
        out.append("READ-ONLY mode; serving only read-only clients\n")
    if with_clients:
        out.append("Clients:\n")
        out.extend(_connection_line(c, brief=True) + "\n" for c in stats.connections)
        out.append("\n")
    out += [
        f"Latency min/avg/max: {stats.latency_min_ms}/{_java_double(stats.latency_avg_ms)}"
        f"/{stats.latency_max_ms}\n",
        f"Received: {stats.packets_received}\n",
        f"Sent: {stats.packets_sent}\n",
        f"Connections: {len(stats.connections)}\n",
        f"Outstanding: {stats.outstanding_requests}\n",
        f"Zxid: 0x{_hex(stats.last_zxid)}\n",
        f"Mode: {stats.mode}\n",
        f"Node count: {stats.node_count}\n",
    ]
    if stats.mode == "leader":
        out.append("Proposal sizes last/min/max: -1/-1/-1\n")
    return "".join(out)


def srvr(stats: ServerStats) -> str:
    return _stat_common(stats, with_clients=False)


def stat(stats: ServerStats) -> str:
    return _stat_common(stats, with_clients=True)


def cons(stats: ServerStats) -> str:
    return "".join(_connection_line(c, brief=False) + "\n" for c in stats.connections) + "\n"


def mntr(stats: ServerStats) -> str:
    """Tab-separated `zk_<key>\\t<value>` lines (MonitorCommand), ZooKeeper's gauge names."""
    values: list[tuple[str, object]] = [
        ("version", full_version(stats)),
        ("server_state", stats.mode),
        ("avg_latency", _java_double(stats.latency_avg_ms)),
        ("max_latency", stats.latency_max_ms),
        ("min_latency", stats.latency_min_ms),
        ("packets_received", stats.packets_received),
        ("packets_sent", stats.packets_sent),
        ("num_alive_connections", len(stats.connections)),
        ("outstanding_requests", stats.outstanding_requests),
        ("uptime", stats.uptime_ms),
        ("znode_count", stats.node_count),
        ("watch_count", sum(len(paths) for _, paths in stats.watches_by_session)),
        ("ephemerals_count", sum(len(paths) for _, paths in stats.ephemerals_by_session)),
        ("approximate_data_size", stats.approximate_data_size),
        ("global_sessions", stats.global_sessions),
        ("local_sessions", stats.local_sessions),
        ("connection_drop_probability", "0.0"),
    ]
    if stats.mode == "leader":
        values += [
            ("learners", stats.learners),
            ("synced_followers", stats.synced_followers),
            ("synced_non_voting_followers", 0),
            ("synced_observers", stats.synced_observers),
            ("pending_syncs", stats.pending_syncs),
        ]
    lines = "".join(f"zk_{key}\t{value}\n" for key, value in values)
    return lines + "".join(f"quorumd_{key}\t{value}\n" for key, value in stats.extra_metrics)


def conf(stats: ServerStats) -> str:
    """ZooKeeperServer.dumpConf, plus the quorum part (membership) when there are peers."""
    pairs: list[tuple[str, object]] = [
        ("clientPort", stats.client_port),
        ("secureClientPort", stats.secure_client_port),
        ("dataDir", stats.data_dir),
        ("dataDirSize", stats.data_dir_size),
        ("dataLogDir", stats.data_log_dir),
        ("dataLogSize", stats.data_log_size),
        ("tickTime", stats.tick_time_ms),
        ("maxClientCnxns", stats.max_client_cnxns),
        ("minSessionTimeout", stats.min_session_timeout_ms),
        ("maxSessionTimeout", stats.max_session_timeout_ms),
        ("clientPortListenBacklog", stats.client_port_listen_backlog),
        ("serverId", stats.server_id),
        *stats.extra_conf,
    ]
    text = "".join(f"{key}={value}\n" for key, value in pairs)
    if stats.peers:
        text += "membership: \n" + "".join(f"{line}\n" for line in stats.peers)
    return text


def envi(stats: ServerStats) -> str:
    """EnvCommand: `zookeeper.version` first (kazoo's server_version() parses it), then
    quorumd's own version, then whatever the server adds."""
    pairs = [
        ("zookeeper.version", full_version(stats)),
        ("quorumd.version", stats.quorumd_version),
        *stats.environment,
    ]
    return "Environment:\n" + "".join(f"{key}={value}\n" for key, value in pairs)


def wchs(stats: ServerStats) -> str:
    """WatchManager.toString: sessions watching, distinct paths, total watches."""
    paths = {p for _, watched in stats.watches_by_session for p in watched}
    total = sum(len(watched) for _, watched in stats.watches_by_session)
    sessions = sum(1 for _, watched in stats.watches_by_session if watched)
    return f"{sessions} connections watching {len(paths)} paths\nTotal watches:{total}\n"


def wchc(stats: ServerStats) -> str:
    out = []
    for session_id, watched in stats.watches_by_session:
        out.append(f"0x{_hex(session_id)}\n")
        out.extend(f"\t{path}\n" for path in watched)
    return "".join(out) + "\n"


def wchp(stats: ServerStats) -> str:
    by_path: dict[str, list[int]] = {}
    for session_id, watched in stats.watches_by_session:
        for path in watched:
            by_path.setdefault(path, []).append(session_id)
    out = []
    for path in sorted(by_path):
        out.append(f"{path}\n")
        out.extend(f"\t0x{_hex(session_id)}\n" for session_id in by_path[path])
    return "".join(out) + "\n"


def dump(stats: ServerStats) -> str:
    """DumpCommand: session expiry buckets, then ephemerals by session."""
    total = sum(len(bucket.session_ids) for bucket in stats.session_expiry)
    out = [
        "SessionTracker dump:\n",
        f"Session Sets ({len(stats.session_expiry)})/({total}):\n",
    ]
    for bucket in sorted(stats.session_expiry, key=lambda b: b.expire_at_ms):
        out.append(f"{len(bucket.session_ids)} expire at {_java_date(bucket.expire_at_ms)}:\n")
        out.extend(f"\t0x{_hex(sid)}\n" for sid in bucket.session_ids)
    out.append("ephemeral nodes dump:\n")
    out.append(f"Sessions with Ephemerals ({len(stats.ephemerals_by_session)}):\n")
    for session_id, paths in stats.ephemerals_by_session:
        out.append(f"0x{_hex(session_id)}:\n")
        out.extend(f"\t{path}\n" for path in paths)
    out.append("Connections dump:\n")
    return "".join(out)


_COMMANDS: dict[str, Callable[[ServerStats], str]] = {
    "ruok": ruok,
    "srvr": srvr,
    "stat": stat,
    "mntr": mntr,
    "conf": conf,
    "cons": cons,
    "envi": envi,
    "wchs": wchs,
    "wchc": wchc,
    "wchp": wchp,
    "dump": dump,
    "isro": isro,
}
# Words that answer even when the server is not serving (no quorum), as in ZooKeeper.
_ALWAYS = frozenset({"ruok", "envi", "isro"})


def render(word: str, stats: ServerStats, whitelist: Iterable[str] = DEFAULT_WHITELIST) -> str:
    """The text answer to a four-letter word; the server sends it and closes."""
    allowed = set(whitelist)
    command = _COMMANDS.get(word)
    if command is None or ("*" not in allowed and word not in allowed):
        return f"{word} is not executed because it is not in the whitelist.\n"
    if not stats.serving and word not in _ALWAYS:
        return ZK_NOT_SERVING + "\n"
    return command(stats)
