"""One simulated run: a cluster, clients and a nemesis, reproducible from a seed.

Theory of operation:

1. Every tick: the nemesis opens and closes fault windows (FAULT phase only), the
   network delivers what is due, every running node ticks, clients act. After each
   single input to a node (a tick, a message, a client request) the node runs its Ready
   loop and the invariant checker looks at it (`check.invariants`).
2. At `fault_ticks` the HEALED phase begins: all faults end at once. The cluster must
   then converge within `heal_ticks`: one leader known to all, every node applied
   everything committed, every client's operations done. Not converging is a liveness
   failure.
3. At the end the client history goes through the linearizability checker.
4. Nodes, clients and faults are visited in sorted order, and every random draw comes
   from a per-concern stream of the seed, so the same seed gives the same run.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable

from quorumd._types import NodeId
from quorumd.check import KvModel, Verdict, check_operations
from quorumd.check.invariants import InvariantChecker, InvariantViolation
from quorumd.consensus.engine import Role
from quorumd.sim.config import CORRECTNESS, CRASH, LIVENESS, OK, RunResult, SimConfig
from quorumd.sim.engines import EngineParams, engine_spec
from quorumd.sim.kv import KvMachine
from quorumd.sim.nemesis import Fault, draw_schedule, partition_groups
from quorumd.sim.network import NetworkParams, SimNetwork
from quorumd.sim.node import NodeCrashed, SimNode
from quorumd.sim.prng import Streams
from quorumd.sim.storage import MemBackend, StorageBackend
from quorumd.sim.trace import Trace
from quorumd.sim.wal import WalBackend
from quorumd.sim.workload import CLIENT_BASE, ClientReply, ClientRequest, Workload, WorkloadParams


def open_backend(config: SimConfig, streams: Streams) -> StorageBackend:
    if config.storage == "mem":
        return MemBackend()
    if config.storage == "wal":
        return WalBackend(lambda node: streams.stream(f"disk-{node}"))
    raise ValueError(f"unknown storage {config.storage!r} (mem|wal)")


class Simulation:
    def __init__(self, config: SimConfig, echo: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.spec = engine_spec(config.engine)
        unknown = sorted(config.variants - self.spec.variants)
        if unknown:
            raise ValueError(f"engine {config.engine} has no variants {unknown}")
        self.streams = Streams(config.seed)
        self.max_batch = config.max_batch
        if config.max_batch is None:
            # A third of the seeds split appends into tiny batches: acknowledgements then
            # cover part of a new leader's log (the figure-8 situation, Raft §5.4.2).
            options = self.streams.stream("options")
            self.max_batch = options.randrange(1, 4) if options.random() < 1 / 3 else 0
        assert self.max_batch is not None
        self.trace = Trace(echo)
        self.ids = tuple(NodeId(i) for i in range(1, config.nodes + 1))
        self.now = 0
        self.events = 0
        self.net = SimNetwork(self.streams.stream("network"), NetworkParams())
        self.backend = open_backend(config, self.streams)
        self.checker = InvariantChecker()
        self.nodes: dict[NodeId, SimNode | None] = {}
        self.paused: set[NodeId] = set()
        self.incarnations: dict[NodeId, int] = {}
        self.workload = Workload(
            self.streams.stream("clients"),
            WorkloadParams(clients=config.clients),
            self.ids,
            self._send,
            self._event,
        )
        self._nemesis_rng = self.streams.stream("nemesis-targets")
        self.schedule = draw_schedule(
            self.streams.stream("nemesis"), config.faults, config.fault_ticks, config.loss
        )
        self._active: list[tuple[Fault, NodeId | None]] = []
        self._restarts: dict[NodeId, int] = {}  # crashed node -> tick it comes back
        self._isolate_next_leader = False
        self._next_fault = 0
        self.first_leader_tick: int | None = None
        self.election_ticks: list[int] = []
        self._leaderless_since: int | None = 0

    def describe(self) -> str:
        """The header line: the options, including those derived from the seed."""
        return f"{self.config.describe()} batch={self.max_batch or 'default'}"

    # -- plumbing -----------------------------------------------------------------------

    def _event(self) -> int:
        self.events += 1
        return self.events

    def _send(self, src: int, dst: int, message: object) -> None:
        self.net.send(src, dst, message, self.now)

    def _boot(self, node_id: NodeId) -> None:
        self._restarts.pop(node_id, None)
        inc = self.incarnations.get(node_id, -1) + 1
        self.incarnations[node_id] = inc
        storage, restored = self.backend.open(node_id)
        self.checker.on_restart(node_id, restored)
        c = self.config
        params = EngineParams(
            node_id,
            self.ids,
            c.election_timeout_ticks,
            c.heartbeat_ticks,
            c.variants,
            self.max_batch or 0,
        )
        prng = self.streams.fresh(f"engine-{node_id}-{inc}")
        node = SimNode(
            id=node_id,
            voters=self.ids,
            engine=self.spec.build(params, prng, restored),
            storage=storage,
            kv=KvMachine.restore(restored.snapshot_data),
            send=self._send,
            destination=self.spec.destination,
            checker=self.checker,
            durable=restored.hard_state,
            compact_every=c.compact_every,
            incarnation=inc,
        )
        if restored.snapshot is not None:
            node.applied = node.snapshot_index = restored.snapshot.index
            node.applied_term = restored.snapshot.term
        self.nodes[node_id] = node
        self.trace.add(self.events, self.now, "boot", f"node {node_id} incarnation {inc}")
        node.observe()

    def _crash(self, node_id: NodeId, why: str, downtime: int) -> None:
        self._restarts[node_id] = self.now + downtime
        self.nodes[node_id] = None
        self.paused.discard(node_id)
        self.net.resume(node_id, self.now)
        self.net.drop_to(node_id)
        self.backend.crash(node_id)
        self.trace.add(self.events, self.now, "crash", f"node {node_id} ({why})")

    def _after_input(self, node: SimNode) -> None:
        was_leader = node.is_leader
        try:
            node.process()
        except NodeCrashed:
            assert node.armed_crash is not None
            self._crash(node.id, f"armed: {node.armed_crash}", node.armed_crash_downtime)
            if self._restarts[node.id] <= self.now:
                self._boot(node.id)
            return
        st = node.observe()
        if st.role is Role.LEADER and not was_leader:
            self.trace.add(self.events, self.now, "leader", f"node {node.id} term {st.term}")
            if self._isolate_next_leader:
                self._isolate_next_leader = False
                self.net.partition([[node.id], [n for n in self.ids if n != node.id]])
                self.trace.add(self.events, self.now, "nemesis", f"isolate new leader {node.id}")
        node.maybe_compact()

    def _deliver(self, src: int, dst: int, message: object) -> None:
        self.events += 1
        if dst >= CLIENT_BASE:
            assert isinstance(message, ClientReply)
            self.workload.deliver(message, self.now)
            return
        node = self.nodes.get(NodeId(dst))
        if node is None:
            return
        if self.trace is not None:
            self.trace.add(self.events, self.now, "deliver", (src, dst, message))
        if isinstance(message, ClientRequest):
            node.on_client_request(message)
        else:
            node.engine.step(message)
        self._after_input(node)

    # -- the run ------------------------------------------------------------------------

    def run(self) -> RunResult:
        try:
            for node_id in self.ids:
                self._boot(node_id)
            converged = self._loop()
        except InvariantViolation as v:
            return self._result(CORRECTNESS, "violation", str(v), v.invariant)
        except Exception as e:
            text = "".join(traceback.format_exception(e)[-6:])
            return self._result(CRASH, "crash", text)
        self.workload.finish()
        verdict = check_operations(
            KvModel(), self.workload.history, max_steps=self.config.lin_max_steps
        )
        if verdict.verdict is Verdict.ILLEGAL:
            keys = ",".join(p.name for p in verdict.illegal_parts)
            msg = f"history not linearizable (key {keys})"
            return self._result(CORRECTNESS, "nonlinearizable", msg, verdict=verdict.verdict.value)
        if not converged:
            return self._result(
                LIVENESS, "liveness", self._liveness_report(), verdict=verdict.verdict.value
            )
        return self._result(OK, "ok", "", verdict=verdict.verdict.value)

    def _loop(self) -> bool:
        c = self.config
        for tick in range(1, c.fault_ticks + c.heal_ticks + 1):
            self.now = tick
            healed = tick > c.fault_ticks
            if tick == c.fault_ticks + 1:
                self._heal_all()
            elif not healed:
                self._nemesis()
            for env in self.net.due(tick):
                self._deliver(env.src, env.dst, env.message)
            for node_id in self.ids:
                node = self.nodes[node_id]
                if node is not None and node_id not in self.paused:
                    self.events += 1
                    node.engine.tick()
                    self._after_input(node)
            self.workload.tick(tick, healed)
            self._track_leader(tick)
            if healed and self._converged():
                return True
        return False

    # -- the nemesis at work ------------------------------------------------------------

    def _leader(self) -> NodeId | None:
        best: tuple[int, NodeId] | None = None
        for node_id in self.ids:
            node = self.nodes[node_id]
            if node is not None and node.is_leader and node.status is not None:
                cand = (node.status.term, node_id)
                best = cand if best is None or cand > best else best
        return None if best is None else best[1]

    def _target(self, fault: Fault) -> NodeId | None:
        up = [n for n in self.ids if self.nodes[n] is not None and n not in self.paused]
        if not up:
            return None
        leader = self._leader()
        if fault.target_leader and leader is not None and leader in up:
            return leader
        if fault.kind == "crash" and fault.mode == "vote":
            # leaders do not vote: strike a follower, the one a candidate will ask
            up = [n for n in up if n != leader] or up
        return up[self._nemesis_rng.randrange(len(up))]

    def _nemesis(self) -> None:
        now = self.now
        for node_id, at in sorted(self._restarts.items()):
            if at <= now and self.nodes[node_id] is None:
                del self._restarts[node_id]
                self._boot(node_id)
        still: list[tuple[Fault, NodeId | None]] = []
        for fault, target in self._active:
            if fault.end <= now:
                self._end_fault(fault, target)
            else:
                still.append((fault, target))
        self._active = still
        while self._next_fault < len(self.schedule):
            fault = self.schedule[self._next_fault]
            if fault.start > now:
                break
            self._next_fault += 1
            self._active.append((fault, self._begin_fault(fault)))

    def _begin_fault(self, fault: Fault) -> NodeId | None:
        self.trace.add(self.events, self.now, "nemesis", f"begin {fault}")
        if fault.kind == "loss":
            self.net.extra_loss = fault.rate
            return None
        target = self._target(fault)
        if target is None:
            return None
        node = self.nodes[target]
        assert node is not None
        if fault.kind == "crash":
            if fault.mode == "now":
                self._crash(target, "now", fault.downtime)
            else:
                node.armed_crash = fault.mode
                node.armed_crash_downtime = fault.downtime
        elif fault.kind == "pause":
            self.paused.add(target)
            self.net.pause(target)
        elif fault.mode == "new_leader":
            self._isolate_next_leader = True
        else:
            side_a, side_b = partition_groups(fault.mode, self.ids, target, self._nemesis_rng)
            if fault.mode == "one_way_in":
                self.net.cut_one_way(side_b, side_a)
            elif fault.mode == "one_way_out":
                self.net.cut_one_way(side_a, side_b)
            else:
                self.net.partition([side_a, side_b])
            self.trace.add(self.events, self.now, "nemesis", f"cut {self.net.cut_links}")
        self.trace.add(self.events, self.now, "nemesis", f"target node {target}")
        return target

    def _end_fault(self, fault: Fault, target: NodeId | None) -> None:
        self.trace.add(self.events, self.now, "nemesis", f"end {fault}")
        if fault.kind == "loss":
            self.net.extra_loss = 0.0
        elif fault.kind == "partition":
            self.net.heal()
            self._isolate_next_leader = False
        elif target is None:
            return
        elif fault.kind == "pause":
            if target in self.paused:
                self.paused.discard(target)
                self.net.resume(target, self.now)
        elif fault.kind == "crash":
            node = self.nodes[target]
            if node is not None:
                node.armed_crash = None

    def _heal_all(self) -> None:
        self.trace.add(self.events, self.now, "nemesis", "heal all: HEALED phase begins")
        self.net.heal()
        self._isolate_next_leader = False
        self.net.extra_loss = 0.0
        self._active = []
        self._restarts.clear()
        for node_id in sorted(self.paused):
            self.net.resume(node_id, self.now)
        self.paused.clear()
        for node_id in self.ids:
            node = self.nodes[node_id]
            if node is None:
                self._boot(node_id)
            else:
                node.armed_crash = None

    # -- liveness -----------------------------------------------------------------------

    def _has_leader(self) -> bool:
        """A live leader whose term and leadership a quorum of live nodes share."""
        leader = self._leader()
        if leader is None or leader in self.paused:
            return False
        lst = self.nodes[leader]
        assert lst is not None and lst.status is not None
        agree = 0
        for node_id in self.ids:
            node = self.nodes[node_id]
            if node is None or node_id in self.paused or node.status is None:
                continue
            if node.status.term == lst.status.term and node.status.leader == leader:
                agree += 1
        return agree >= len(self.ids) // 2 + 1

    def _track_leader(self, tick: int) -> None:
        if self._has_leader():
            if self.first_leader_tick is None:
                self.first_leader_tick = tick
            if self._leaderless_since is not None:
                self.election_ticks.append(tick - self._leaderless_since)
                self._leaderless_since = None
        elif self._leaderless_since is None:
            self._leaderless_since = tick

    def _converged(self) -> bool:
        if not self.workload.done():
            return False
        leader = self._leader()
        if leader is None:
            return False
        lnode = self.nodes[leader]
        assert lnode is not None and lnode.status is not None
        lst = lnode.status
        if lst.commit != lst.last_index:
            return False
        for node_id in self.ids:
            node = self.nodes[node_id]
            if node is None or node.status is None:
                return False
            st = node.status
            if (st.term, st.leader, st.commit) != (lst.term, leader, lst.commit):
                return False
            if node.applied != lst.commit:
                return False
        return True

    def _liveness_report(self) -> str:
        lines = [f"no convergence within {self.config.heal_ticks} healed ticks:"]
        for node_id in self.ids:
            node = self.nodes[node_id]
            st = None if node is None else node.status
            applied = None if node is None else node.applied
            lines.append(f"  node {node_id}: {st} applied={applied}")
        lines.append(f"  clients outstanding: {self.workload.outstanding()}")
        return "\n".join(lines)

    def _result(
        self,
        code: int,
        outcome: str,
        message: str,
        invariant: str | None = None,
        verdict: str = "-",
    ) -> RunResult:
        w = self.workload
        bound = self.config.op_bound_ticks
        return RunResult(
            seed=self.config.seed,
            exit_code=code,
            outcome=outcome,
            message=message,
            invariant=invariant,
            step=self.events,
            tick=self.now,
            trace_tail=self.trace.tail() if code != OK else (),
            verdict=verdict,
            first_leader_tick=self.first_leader_tick,
            election_ticks=tuple(self.election_ticks),
            ops_issued=w.issued,
            ops_within_bound=sum(1 for lat in w.latencies if lat <= bound),
            ops_unknown=w.unknown,
            op_latency_ticks=tuple(w.latencies),
            history_size=len(w.history),
            stats=dict(self.net.stats),
        )


def run_seed(config: SimConfig, echo: Callable[[str], None] | None = None) -> RunResult:
    """Run one seed; never raises for a failure of the system under test."""
    return Simulation(config, echo).run()
