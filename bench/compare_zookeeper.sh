#!/usr/bin/env bash
# quorumd side by side with Apache ZooKeeper 3.8 on loopback, with `quorumd bench`.
#
#   bench/compare_zookeeper.sh            # full: ~13 min on 2 cores
#   bench/compare_zookeeper.sh --quick    # ~5 min: shorter runs, smaller sweep
#   options: --duration S --warmup S --out DIR --workloads "set get ..." --sizes "3 1"
#            --paxos-workloads "set get mixed"   (3 nodes: also run quorumd on Multi-Paxos
#            for these, as a third system in the same alternation; "" to skip)
#            --latency-rounds K  --build compiled|interpreted
#
# For each cluster size (3 nodes, then 1) it starts ZooKeeper (bench/zookeeper.sh, Debian's
# package, installed here when missing) and quorumd (`quorumd serve` per node), both on
# 127.0.0.1 with fsync on (ZooKeeper's forceSync default yes; quorumd always fsyncs),
# data dirs on the same disk (under --out), admin servers off. Then for each workload it
# runs the same (conns, depth) sweep against each server, ALTERNATING ZooKeeper/quorumd
# run by run so drift on the machine hits both alike, and keeps each side's peak. Last,
# the low-load latency rows: 1 connection, depth 1, set — sent to the leader of each
# system and to a follower of each (a follower forwards the write: one more hop), so
# both systems are measured on the same path. Where the scheduler puts four busy processes
# on two cores moves a 1x1 p50 by as much as a quarter (bench/placement.py), and that is
# decided anew at every cluster start, so these rows are taken in --latency-rounds rounds
# (default 3), each on freshly started clusters of both systems, and each system's p50 is
# the median of its rounds' p50s; every round's figure is printed too.
#
# --build compiled (the default) runs the quorumd servers on the mypyc build (`make
# compiled`, built here when stale; the interpreted tree when this machine cannot compile);
# --build interpreted runs the source tree. The load generator is the interpreted tree in
# both cases, so figures of the two builds are comparable. Each quorumd line records it.
#
# Every `quorumd bench` JSON line goes to DIR/results.jsonl; the table is printed from it.
# The load generator shares the machine's cores with the servers: its own CPU use is in
# the table (gen CPU, % of one core) so a saturated generator is visible.
# Every process started here is stopped on exit (trap).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
PY=${PY:-$REPO/.venv/bin/python}
QUICK=0
DURATION=""
WARMUP=""
OUT=/tmp/quorumd-compare
WORKLOADS="set get mixed create lock lock-native"
PAXOS_WORKLOADS="set get mixed"
SIZES="3 1"
LATENCY_ROUNDS=3
BUILD=compiled
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --duration) DURATION=$2; shift ;;
    --warmup) WARMUP=$2; shift ;;
    --out) OUT=$2; shift ;;
    --workloads) WORKLOADS=$2; shift ;;
    --sizes) SIZES=$2; shift ;;
    --paxos-workloads) PAXOS_WORKLOADS=$2; shift ;;
    --latency-rounds) LATENCY_ROUNDS=$2; shift ;;
    --build) BUILD=$2; shift ;;
    -h|--help) sed -n '2,34p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [[ $QUICK == 1 ]]; then
  DURATION=${DURATION:-3}; WARMUP=${WARMUP:-1}
  SWEEP="16x8 64x16"          # conns x depth
else
  DURATION=${DURATION:-6}; WARMUP=${WARMUP:-2}
  SWEEP="8x4 32x16 64x32"
fi
PROCS=2
SERVE_PYTHONPATH=${PYTHONPATH:-}  # what the quorumd servers import
case "$BUILD" in
  compiled)
    rc=0; "$PY" "$REPO/tools/build_compiled.py" --if-stale --out "$REPO/build/compiled" >&2 || rc=$?
    if [[ $rc == 0 ]]; then SERVE_PYTHONPATH="$REPO/build/compiled/src"
    elif [[ $rc == 3 ]]; then BUILD=interpreted; echo "no compiler here: the interpreted build runs" >&2
    else exit "$rc"; fi ;;
  interpreted) ;;
  *) echo "--build must be compiled or interpreted" >&2; exit 2 ;;
esac

# ZooKeeper on ports of its own, so an ensemble started elsewhere with the defaults is untouched
export ZK_BASE="$OUT/zk" ZK_CLIENT_BASE=24180 ZK_QUORUM_BASE=24280 ZK_ELECTION_BASE=24380
QD_CLIENT_BASE=25180
QD_PEER_BASE=25280
QP_CLIENT_BASE=26180  # the Multi-Paxos cluster, when it runs beside the Raft one
QP_PEER_BASE=26280
QD_PIDS=()

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

cleanup() {
  stop_quorumd
  "$HERE/zookeeper.sh" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ensure_zookeeper() {
  if ! dpkg -s zookeeper >/dev/null 2>&1 || [[ ! -f /usr/share/java/zookeeper.jar ]]; then
    log "installing Debian's zookeeper package"
    if [[ $(id -u) == 0 ]]; then apt-get install -y zookeeper >&2; else sudo apt-get install -y zookeeper >&2; fi
  fi
}

fourlw() {
  timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1 && printf '%s' '$2' >&3 && cat <&3" 2>/dev/null || true
}

start_quorumd() {  # start_quorumd N [CONSENSUS CLIENT_BASE PEER_BASE DIR]
  # bytecode written once, as an installed package has it (see bench/_servers.py)
  "$PY" -m compileall -q "$REPO/src/quorumd" > /dev/null
  local n=$1 consensus=${2:-raft} cbase=${3:-$QD_CLIENT_BASE} pbase=${4:-$QD_PEER_BASE}
  local dir=${5:-$OUT/qd} peers="" i
  rm -rf "$dir"; mkdir -p "$dir"
  for i in $(seq 1 "$n"); do peers+="${peers:+,}$i=127.0.0.1:$((pbase + i))"; done
  for i in $(seq 1 "$n"); do
    mkdir -p "$dir/node$i"
    PYTHONPATH="$SERVE_PYTHONPATH" setsid "$PY" -m quorumd serve --id "$i" --peers "$peers" --client-port $((cbase + i)) \
      --data-dir "$dir/node$i/data" --consensus "$consensus" --log-level warning \
      > "$dir/node$i/node.log" 2>&1 < /dev/null &
    QD_PIDS+=($!)
  done
  local deadline=$((SECONDS + 60))
  until [[ $(for i in $(seq 1 "$n"); do fourlw $((cbase + i)) mntr; done \
             | grep -cE 'zk_server_state\s+(leader|standalone)') == 1 ]]; do
    if [[ $SECONDS -ge $deadline ]]; then log "quorumd did not elect a leader; see $dir"; exit 1; fi
    sleep 0.3
  done
}

stop_quorumd() {
  local pid
  for pid in "${QD_PIDS[@]:-}"; do
    [[ -n "$pid" ]] || continue
    kill -TERM -- "-$pid" 2>/dev/null || true
  done
  for pid in "${QD_PIDS[@]:-}"; do
    [[ -n "$pid" ]] || continue
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  QD_PIDS=()
}

hosts_of() {  # hosts_of BASE N
  local out="" i
  for i in $(seq 1 "$2"); do out+="${out:+,}127.0.0.1:$(($1 + i))"; done
  echo "$out"
}

role_port() {  # role_port BASE N ROLE: client port of the node whose srvr Mode is ROLE
  local i
  for i in $(seq 1 "$2"); do
    if fourlw $(($1 + i)) srvr | grep -q "Mode: $3"; then echo $(($1 + i)); return; fi
  done
  echo $(($1 + 1))
}

run_bench() {  # run_bench SYSTEM SIZE HOSTS WORKLOAD CONNS DEPTH PROCS [TARGET [ROUND]]
  local sys=$1 size=$2 hosts=$3 wl=$4 conns=$5 depth=$6 procs=$7 target=${8:-all}
  local round=${9:-0} build=null line rc=0
  [[ $sys == zookeeper ]] || build="\"$BUILD\""
  line=$("$PY" -m quorumd bench --hosts "$hosts" --workload "$wl" --conns "$conns" \
           --depth "$depth" --procs "$procs" --duration "$DURATION" --warmup "$WARMUP" --json \
           2>>"$OUT/bench.stderr" | tail -n 1) || rc=$?
  [[ -n "$line" ]] || line='{"failed": "no output"}'
  printf '{"system": "%s", "build": %s, "nodes": %s, "target": "%s", "round": %s, "rc": %s, "result": %s}\n' \
    "$sys" "$build" "$size" "$target" "$round" "$rc" "$line" \
    >> "$OUT/results.jsonl"
  log "$sys n=$size $wl conns=$conns depth=$depth${9:+ round $round}${8:+ to $target} rc=$rc: $(cut -c1-150 <<<"$line")"
}

run_size() {  # run_size N: both systems up, every workload x sweep point, alternating
  local n=$1 wl point conns depth zk_hosts qd_hosts
  log "starting $n-node ZooKeeper and $n-node quorumd"
  "$HERE/zookeeper.sh" start "$n" >&2
  start_quorumd "$n"
  zk_hosts=$(hosts_of "$ZK_CLIENT_BASE" "$n")
  qd_hosts=$(hosts_of "$QD_CLIENT_BASE" "$n")
  qp_hosts=""
  if [[ $n == 3 && -n "$PAXOS_WORKLOADS" ]]; then
    start_quorumd "$n" paxos "$QP_CLIENT_BASE" "$QP_PEER_BASE" "$OUT/qp"
    qp_hosts=$(hosts_of "$QP_CLIENT_BASE" "$n")
  fi
  for wl in $WORKLOADS; do
    for point in $SWEEP; do
      conns=${point%x*}; depth=${point#*x}
      if [[ $wl != lock-native ]]; then
        run_bench zookeeper "$n" "$zk_hosts" "$wl" "$conns" "$depth" "$PROCS"
      fi
      run_bench quorumd "$n" "$qd_hosts" "$wl" "$conns" "$depth" "$PROCS"
      if grep -q '"skipped"' <<<"$(tail -n 1 "$OUT/results.jsonl")"; then break; fi
      if [[ -n "$qp_hosts" && " $PAXOS_WORKLOADS " == *" $wl "* ]]; then
        run_bench quorumd-paxos "$n" "$qp_hosts" "$wl" "$conns" "$depth" "$PROCS"
      fi
    done
  done
  stop_quorumd
  "$HERE/zookeeper.sh" stop >&2
}

ensure_zookeeper
mkdir -p "$OUT"
: > "$OUT/results.jsonl"
: > "$OUT/bench.stderr"
log "results in $OUT/results.jsonl; sweep (conns x depth): $SWEEP; $DURATION s + $WARMUP s warmup"
for n in $SIZES; do [[ -z "$WORKLOADS" ]] || run_size "$n"; done
# The low-load rows: one connection, one request at a time, in rounds of fresh clusters.
for round in $(seq 1 "$LATENCY_ROUNDS"); do
  for n in $SIZES; do
    log "low-load round $round of $LATENCY_ROUNDS: fresh $n-node clusters"
    "$HERE/zookeeper.sh" start "$n" >&2
    start_quorumd "$n"
    if [[ $n == 1 ]]; then
      run_bench zookeeper 1 "$(hosts_of "$ZK_CLIENT_BASE" 1)" set 1 1 1 all "$round"
      run_bench quorumd 1 "$(hosts_of "$QD_CLIENT_BASE" 1)" set 1 1 1 all "$round"
    else
      for role in leader follower; do
        run_bench zookeeper "$n" "127.0.0.1:$(role_port "$ZK_CLIENT_BASE" "$n" $role)" \
          set 1 1 1 $role "$round"
        run_bench quorumd "$n" "127.0.0.1:$(role_port "$QD_CLIENT_BASE" "$n" $role)" \
          set 1 1 1 $role "$round"
      done
    fi
    stop_quorumd
    "$HERE/zookeeper.sh" stop >&2
  done
done

"$PY" - "$OUT/results.jsonl" <<'EOF'
"""Peak per (nodes, workload, system) over the sweep, and the 1x1 latency rows: each
figure of those the median over the rounds (fresh clusters each), every round listed."""
import json
import statistics
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
peak: dict[tuple[int, str, str], dict] = {}
rounds: dict[tuple[int, str, str], list[dict]] = {}
builds = sorted({row["build"] for row in rows if row.get("build")})
for row in rows:
    r = row["result"]
    key = (row["nodes"], r.get("workload", "?"), row["system"])
    if r.get("conns") == 1 and r.get("depth") == 1:
        rounds.setdefault((row["nodes"], row.get("target", "all"), row["system"]), []).append(r)
        continue
    best = peak.get(key)
    if best is None or r.get("ops_per_s", -1) > best.get("ops_per_s", -1):
        peak[key] = r


def median_of(runs: list[dict]) -> dict:
    """The rounds as one row: each figure's median; errors summed; a failed round shows."""
    done = [r for r in runs if "ops" in r]
    if len(done) < len(runs):
        return next(r for r in runs if "ops" not in r)
    out = dict(done[0])
    for field in ("ops_per_s", "p50_ms", "p99_ms", "loadgen_cpu_pct"):
        if all(r.get(field) is not None for r in done):
            out[field] = statistics.median(r[field] for r in done)
    for field in ("errors", "timeouts", "connection_losses"):
        out[field] = sum(r[field] for r in done)
    return out


low = {key: median_of(runs) for key, runs in rounds.items()}


def cell(r, field, fmt="{:,.0f}"):
    if r is None:
        return "n/a"
    if "skipped" in r:
        return "skipped"
    if "failed" in r:
        return "FAILED"
    v = r.get(field)
    return "-" if v is None else fmt.format(v)


def bad(r):
    if r is None or "ops" not in r:
        return ""
    n = r["errors"] + r["timeouts"] + r["connection_losses"]
    return f"{n} ERR" if n else "0"


def line(label, z, q, latency=False):
    ratio = "-"
    if z and q and z.get("ops_per_s") and q.get("ops_per_s") is not None:
        ratio = f"{q['ops_per_s'] / z['ops_per_s']:.2f}"
        if latency and z.get("p50_ms") and q.get("p50_ms") is not None:
            ratio += f" (p50 {q['p50_ms'] / z['p50_ms']:.2f}x)"
    at = lambda r: "-" if not r or "conns" not in r else f"{r['conns']}x{r['depth']}"
    print(
        f"| {label} | {cell(z, 'ops_per_s')} | {cell(q, 'ops_per_s')} | {ratio} "
        f"| {cell(z, 'p50_ms', '{:.2f}')} / {cell(z, 'p99_ms', '{:.2f}')} "
        f"| {cell(q, 'p50_ms', '{:.2f}')} / {cell(q, 'p99_ms', '{:.2f}')} "
        f"| {at(z)} / {at(q)} | {cell(z, 'loadgen_cpu_pct')} / {cell(q, 'loadgen_cpu_pct')} "
        f"| {bad(z)} / {bad(q)} |"
    )


header = ("| workload | ZooKeeper ops/s | quorumd ops/s | quorumd/ZK | ZK p50/p99 ms "
          "| quorumd p50/p99 ms | peak at conns x depth (ZK / qd) | gen CPU % (ZK / qd) "
          "| errors (ZK / qd) |")
for nodes in sorted({k[0] for k in peak} | {k[0] for k in low}, reverse=True):
    print(f"\n### {nodes} node{'s' if nodes > 1 else ''} (peak over the sweep)\n")
    print(header)
    print("|" + "---|" * 9)
    workloads = []
    for (n, wl, _), _r in peak.items():
        if n == nodes and wl not in workloads:
            workloads.append(wl)
    for wl in workloads:
        line(wl, peak.get((nodes, wl, "zookeeper")), peak.get((nodes, wl, "quorumd")))
    for wl in workloads:
        if (nodes, wl, "quorumd-paxos") in peak:
            line(f"{wl} — quorumd on Multi-Paxos", peak.get((nodes, wl, "zookeeper")),
                 peak.get((nodes, wl, "quorumd-paxos")))
    for target in ("all", "leader", "follower"):
        z, q = low.get((nodes, target, "zookeeper")), low.get((nodes, target, "quorumd"))
        if z or q:
            to = "" if target == "all" else f" to the {target}"
            n = len(rounds.get((nodes, target, "quorumd"), []))
            line(f"set, 1 conn, depth 1{to} (median of {n})", z, q, latency=True)
    for target in ("all", "leader", "follower"):
        zs = rounds.get((nodes, target, "zookeeper"), [])
        qs = rounds.get((nodes, target, "quorumd"), [])
        if zs or qs:
            p50 = lambda runs: ", ".join(cell(r, "p50_ms", "{:.2f}") for r in runs)
            to = "" if target == "all" else f" to the {target}"
            print(f"\n1x1 set{to}, p50 ms per round: ZooKeeper {p50(zs)}; quorumd {p50(qs)}")
print(f"\nquorumd build: {', '.join(builds) or '-'}")
EOF
