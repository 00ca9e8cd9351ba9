"""Build the compiled (mypyc) copy of quorumd's server side: `make compiled`.

    .venv/bin/python tools/build_compiled.py [--out build/compiled] [--jobs 2]

Why a copy and not the source tree: mypyc makes a `Final` attribute read-only in C, so
a dataclass `__init__` could not set it. The source keeps `Final` (mypy --strict checks
that no one writes a message in flight); the copy drops it and is compiled. Modules a
server does not run hot (CLI, clients, simulator, checker, load generator) and
`_types.py` (mypyc rejects the `...` defaults of the Prng protocol) stay interpreted in
the copy, beside the compiled ones. Python imports a module's compiled extension before
its `.py`, so `PYTHONPATH=<out>/src` makes every quorumd command run the compiled
build; `quorumd --version` and each node's start line say which build runs.

It writes the copy under a temporary name and renames it into place only when the
build and an import check pass, so a failed build never leaves half a tree behind.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "quorumd"
COMPILED = [
    "errors.py",
    "env.py",
    "consensus/engine.py",
    "consensus/plain.py",
    "consensus/raft",
    "consensus/paxos",
    "storage",
    "machine",
    "wire",
    "server",
]
STAMP = "SOURCE-HASH"


def source_hash() -> str:
    """What the copy was built from: every source file, and the compiler's version."""
    import mypy.version

    h = hashlib.sha256(mypy.version.__version__.encode())
    for path in sorted(SRC.rglob("*.py")):
        h.update(str(path.relative_to(SRC)).encode() + b"\0" + path.read_bytes())
    h.update(pathlib.Path(__file__).read_bytes())
    return h.hexdigest()


def strip_final(text: str) -> str:
    """`x: Final[T]` -> `x: T`, brackets balanced (T may hold brackets of its own)."""
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


SETUP = """
from setuptools import setup
from mypyc.build import mypycify
setup(name="quorumd-compiled", packages=[], ext_modules=mypycify(
    {paths!r}, opt_level="3", multi_file=True, verbose=False))
"""

MYPY_INI = """[mypy]
python_version = 3.11
[mypy-kazoo.*,crc32c,uvloop,msgpack]
ignore_missing_imports = True
"""


def build(out: pathlib.Path, jobs: int) -> None:
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    src = tmp / "src"
    shutil.copytree(SRC, src / "quorumd", ignore=shutil.ignore_patterns("__pycache__"))
    for path in (src / "quorumd").rglob("*.py"):
        text = path.read_text()
        if ": Final[" in text:
            path.write_text(strip_final(text))
    (src / "mypy.ini").write_text(MYPY_INI)
    paths = [f"quorumd/{p}" for p in COMPILED]
    (src / "setup.py").write_text(SETUP.format(paths=paths))
    log = tmp / "build.log"
    print(f"compiling quorumd's server side with mypyc into {out} (log: {out}/build.log);"
          f" a few minutes ...", flush=True)
    started = time.monotonic()
    with log.open("w") as fh:
        rc = subprocess.call(
            [sys.executable, "setup.py", "build_ext", "--inplace", f"--parallel={jobs}"],
            cwd=src, stdout=fh, stderr=subprocess.STDOUT,
        )
    if rc != 0:
        sys.stderr.write(log.read_text()[-3000:])
        raise SystemExit(f"mypyc build failed (exit {rc}); full log: {log}")
    shutil.rmtree(src / "build", ignore_errors=True)
    # the modules left interpreted get their bytecode now, as `make bytecode` does
    subprocess.check_call([sys.executable, "-m", "compileall", "-q", str(src / "quorumd")],
                          stdout=subprocess.DEVNULL)
    env = dict(os.environ, PYTHONPATH=str(src))
    check = subprocess.run(
        [sys.executable, "-c", "import quorumd, quorumd.server.app; print(quorumd.build())"],
        env=env, capture_output=True, text=True, cwd="/", check=False,
    )
    if check.stdout.strip() != "compiled":
        raise SystemExit(f"the compiled copy does not import as compiled: {check.stderr[-2000:]}")
    (tmp / STAMP).write_text(source_hash() + "\n")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    n = sum(1 for _ in (out / "src").rglob("*.so"))
    print(f"built {n} compiled modules in {time.monotonic() - started:.0f} s: {out}/src")


NO_TOOLCHAIN = 3  # exit status when this machine cannot compile C extensions at all


def missing_toolchain() -> str | None:
    """Why no extension can be built here (no C compiler, no Python.h), or None."""
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        return f"no C compiler ({cc})"
    header = pathlib.Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not header.exists():
        return f"no Python headers ({header})"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "build" / "compiled")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--if-stale", action="store_true",
                        help="do nothing when the copy was built from the current source")
    args = parser.parse_args()
    out = args.out.resolve()
    stamp = out / STAMP
    if args.if_stale and stamp.exists() and stamp.read_text().strip() == source_hash():
        print(f"compiled build is up to date: {out}/src")
        return
    why = missing_toolchain()
    if why is not None:
        print(f"cannot build the compiled copy: {why}", file=sys.stderr)
        raise SystemExit(NO_TOOLCHAIN)
    build(out, args.jobs)


if __name__ == "__main__":
    main()
