"""`quorumd sim`: the options line first, failure report, exit codes."""

from __future__ import annotations

from click.testing import CliRunner

from quorumd.cli.main import main


def test_single_seed_prints_options_first_and_exits_zero() -> None:
    result = CliRunner().invoke(main, ["sim", "--seed", "4", "--fault-ticks", "150"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("seed=4 engine=raft nodes=5 faults=crash,loss,partition,pause")
    assert "violations: 0" in result.output


def test_broken_variant_reports_seed_invariant_trace_and_replay() -> None:
    result = CliRunner().invoke(main, ["sim", "--seed", "0", "--variant", "double_vote"])
    assert result.exit_code == 1
    assert "FAILED seed=0" in result.output
    assert "invariant broken: Vote Stability" in result.output
    assert "last 50 trace events:" in result.output
    assert "replay: quorumd sim" in result.output and "--seed 0 --trace" in result.output


def test_many_seeds_in_worker_processes() -> None:
    args = ["sim", "--seed", "10", "--seeds", "4", "--workers", "2", "--faults", "crash"]
    result = CliRunner().invoke(main, [*args, "--fault-ticks", "150"])
    assert result.exit_code == 0, result.output
    assert "seed=10..13" in result.output
    assert "seeds run: 4" in result.output
    assert "linearizability: ok 4" in result.output


def test_unknown_fault_model_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["sim", "--faults", "meteor"])
    assert result.exit_code == 2
    assert "unknown fault models" in result.output


def test_compare_prints_both_engines_for_every_fault_model() -> None:
    args = ["sim", "--compare", "raft,paxos", "--seeds", "2", "--seed", "3", "--workers", "1",
            "--fault-ticks", "120", "--heal-ticks", "300", "--nodes", "3"]
    result = CliRunner(env={"COLUMNS": "200"}).invoke(main, args)
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if "raft" in line or "paxos" in line]
    for model in ("partition", "crash", "loss", "pause", "all"):
        cells = [r for r in rows if f" {model} " in r]
        assert any("raft" in r for r in cells) and any("paxos" in r for r in cells), model
        for r in cells:
            assert r.split("│")[3].strip() == "0"  # violations column


def test_compare_rejects_unknown_engines() -> None:
    result = CliRunner().invoke(main, ["sim", "--compare", "raft,zab", "--seeds", "2"])
    assert result.exit_code == 2
    assert "unknown engines ['zab']" in result.output
