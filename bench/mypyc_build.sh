#!/usr/bin/env bash
# An experimental mypyc-compiled copy of quorumd's server side, for measuring what a
# compiled hot path buys (issue 8's low-load latency). Not the shipped build: the test
# suite runs the pure-Python tree.
#
#   bench/mypyc_build.sh [DIR]            # default DIR=/tmp/quorumd-mypyc, ~3 min on 2 cores
#   PYTHONPATH=DIR/src .venv/bin/python bench/placement.py --rounds 3
#   PYTHONPATH=DIR/src .venv/bin/python bench/replication_path.py
#
# It copies src/ to DIR, drops `Final` from dataclass fields in the copy (mypyc makes a
# Final attribute read-only, so the dataclass __init__ could not set it; the pure tree
# keeps Final for mypy's read-only check), and compiles the consensus (Raft), storage,
# machine, wire and server packages with mypyc, which comes with mypy. `_types.py` stays
# interpreted (mypyc rejects the `...` defaults of the Prng protocol), and so do the CLI,
# the clients, the simulator and the checker, which are not on a server's hot path.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
DIR="${1:-/tmp/quorumd-mypyc}"
[ -x "$ROOT/.venv/bin/mypyc" ] || { echo "no $ROOT/.venv/bin/mypyc: run 'make test' once first" >&2; exit 2; }
rm -rf "$DIR"
mkdir -p "$DIR"
cp -r "$ROOT/src" "$DIR/src"
find "$DIR/src" -name __pycache__ -prune -exec rm -rf {} +
"$PY" - "$DIR/src/quorumd" <<'PYCODE'
import pathlib, sys

def strip_final(text: str) -> str:
    out, i = [], 0
    while (j := text.find(": Final[", i)) >= 0:
        out.append(text[i:j])
        k = m = j + len(": Final[")
        depth = 1
        while depth:
            depth += {"[": 1, "]": -1}.get(text[m], 0)
            m += 1
        out.append(": " + text[k : m - 1])
        i = m
    out.append(text[i:])
    return "".join(out)

for path in pathlib.Path(sys.argv[1]).rglob("*.py"):
    text = path.read_text()
    if ": Final[" in text:
        path.write_text(strip_final(text))
PYCODE
cat > "$DIR/src/mypy.ini" <<'INI'
[mypy]
python_version = 3.11

[mypy-kazoo.*,crc32c,uvloop,msgpack]
ignore_missing_imports = True
INI
cd "$DIR/src"
echo "compiling with mypyc into $DIR/src (log: $DIR/build.log) ..."
"$ROOT/.venv/bin/mypyc" quorumd/errors.py quorumd/env.py quorumd/consensus/engine.py \
  quorumd/consensus/plain.py quorumd/consensus/raft/ quorumd/storage/ quorumd/machine/ \
  quorumd/wire/ quorumd/server/ > "$DIR/build.log" 2>&1 || { tail -20 "$DIR/build.log" >&2; exit 1; }
n=$(find quorumd -name '*.so' | wc -l)
echo "built $n compiled modules; use: PYTHONPATH=$DIR/src"
