#!/usr/bin/env bash
# (copy of the project's anchor script /work/shared/anchors/zookeeper.sh, used by
#  bench/compare_zookeeper.sh and bench/*.py with their own ZK_BASE and ports)
# Start/stop a loopback Apache ZooKeeper ensemble (Debian bookworm package
# `zookeeper` 3.8.0, `apt-get install -y zookeeper`; java is needed) to compare
# quorumd against, side by side.
#
#   zookeeper.sh start N     # N = 1 (standalone) or 3 (quorum)
#   zookeeper.sh stop        # stops every node this script started
#   zookeeper.sh restart N   # stop + start (fresh, empty data dirs)
#   zookeeper.sh status      # `srvr` 4lw of every node
#   zookeeper.sh hosts       # prints host:port,... of the running ensemble
#
# Ports (all 127.0.0.1, override with ZK_CLIENT_BASE, ZK_QUORUM_BASE, ZK_ELECTION_BASE):
#   node i (1..3): client 21180+i, quorum 21280+i, leader election 21380+i
# Data:  $ZK_BASE/node<i> (default /tmp/quorumd-anchors/zk)/{data,datalog}, config zoo.cfg, log zk.log, pid
#
# Server settings are the package defaults except what is needed to run
# several nodes on one box and to benchmark it:
#   admin server off, 4lw whitelist '*', maxClientCnxns=0 (the default of 60
#   per IP would refuse a 64-connection sweep from 127.0.0.1).
# forceSync (fsync of the txn log before ack) stays at its default: yes.
# Env overrides: ZK_BASE, ZK_HEAP (default 1g), ZK_EXTRA_CFG (lines appended
# to zoo.cfg, e.g. ZK_EXTRA_CFG=$'globalOutstandingLimit=10000').
set -euo pipefail

ZK_BASE=${ZK_BASE:-/tmp/quorumd-anchors/zk}
ZK_HEAP=${ZK_HEAP:-1g}
CLIENT_BASE=${ZK_CLIENT_BASE:-21180}
QUORUM_BASE=${ZK_QUORUM_BASE:-21280}
ELECTION_BASE=${ZK_ELECTION_BASE:-21380}
JAVA=${JAVA:-/usr/bin/java}
# zookeeper.jar's manifest carries the Class-Path of its Debian dependencies;
# slf4j-simple gives us a log binding (otherwise all logging is dropped).
CP="/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar"

fourlw() {  # fourlw PORT WORD  -> prints reply (empty on failure)
  local port=$1 word=$2
  timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && printf '%s' '$word' >&3 && cat <&3" 2>/dev/null || true
}

start() {
  local n=${1:-3}
  if [[ "$n" != 1 && "$n" != 3 ]]; then echo "N must be 1 or 3" >&2; exit 2; fi
  if ls "$ZK_BASE"/node*/pid >/dev/null 2>&1; then
    echo "an ensemble seems to be running (pid files in $ZK_BASE); run stop first" >&2; exit 1
  fi
  rm -rf "$ZK_BASE"; mkdir -p "$ZK_BASE"
  for i in $(seq 1 "$n"); do
    local d="$ZK_BASE/node$i"
    mkdir -p "$d/data" "$d/datalog"
    cat > "$d/zoo.cfg" <<EOF
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$d/data
dataLogDir=$d/datalog
clientPortAddress=127.0.0.1
clientPort=$((CLIENT_BASE + i))
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=*
autopurge.purgeInterval=0
EOF
    if [[ "$n" -gt 1 ]]; then
      echo "$i" > "$d/data/myid"
      for j in $(seq 1 "$n"); do
        echo "server.$j=127.0.0.1:$((QUORUM_BASE + j)):$((ELECTION_BASE + j))" >> "$d/zoo.cfg"
      done
    fi
    if [[ -n "${ZK_EXTRA_CFG:-}" ]]; then printf '%s\n' "$ZK_EXTRA_CFG" >> "$d/zoo.cfg"; fi
    # setsid: own process group, so stop can signal exactly this JVM
    setsid "$JAVA" -Xms"$ZK_HEAP" -Xmx"$ZK_HEAP" -XX:+UseG1GC \
      -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
      -Dorg.slf4j.simpleLogger.showDateTime=true \
      -Dzookeeper.admin.enableServer=false \
      -Dzookeeper.4lw.commands.whitelist='*' \
      -Dzookeeper.jmx.log4j.disable=true \
      -cp "$CP" org.apache.zookeeper.server.quorum.QuorumPeerMain "$d/zoo.cfg" \
      > "$d/zk.log" 2>&1 < /dev/null &
    echo $! > "$d/pid"
  done
  # wait until every node answers ruok and (for a quorum) a leader exists
  local deadline=$((SECONDS + 60))
  while :; do
    local ok=0 leader=0
    for i in $(seq 1 "$n"); do
      local s; s=$(fourlw $((CLIENT_BASE + i)) srvr)
      if grep -q '^Mode: ' <<<"$s"; then ok=$((ok + 1)); fi
      if grep -qE '^Mode: (leader|standalone)' <<<"$s"; then leader=$((leader + 1)); fi
    done
    if [[ $ok -eq $n && $leader -eq 1 ]]; then break; fi
    if [[ $SECONDS -ge $deadline ]]; then
      echo "ensemble did not come up in 60 s; logs under $ZK_BASE/node*/zk.log" >&2; exit 1
    fi
    sleep 0.5
  done
  for i in $(seq 1 "$n"); do
    printf 'node%d pid=%s port=%d %s %s\n' "$i" "$(cat "$ZK_BASE/node$i/pid")" $((CLIENT_BASE + i)) \
      "$(fourlw $((CLIENT_BASE + i)) ruok)" "$(fourlw $((CLIENT_BASE + i)) srvr | grep '^Mode')"
  done
  echo "HOSTS=$(hosts)"
}

hosts() {
  local out=""
  for d in "$ZK_BASE"/node*/; do
    [[ -f "$d/pid" ]] || continue
    local i=${d%/}; i=${i##*node}
    out+="${out:+,}127.0.0.1:$((CLIENT_BASE + i))"
  done
  echo "$out"
}

stop() {
  shopt -s nullglob
  for pf in "$ZK_BASE"/node*/pid; do
    local pid; pid=$(cat "$pf")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pf"
    echo "stopped zk pid $pid"
  done
}

status() {
  shopt -s nullglob
  for d in "$ZK_BASE"/node*/; do
    local i=${d%/}; i=${i##*node}
    echo "== node$i port $((CLIENT_BASE + i)) pid $(cat "$d/pid" 2>/dev/null || echo -)"
    fourlw $((CLIENT_BASE + i)) srvr
  done
}

case "${1:-}" in
  start) start "${2:-3}" ;;
  restart) stop; start "${2:-3}" ;;
  stop) stop ;;
  status) status ;;
  hosts) hosts ;;
  *) echo "usage: $0 start N|restart N|stop|status|hosts" >&2; exit 2 ;;
esac
