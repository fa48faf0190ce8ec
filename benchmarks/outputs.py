"""Behaviour unchanged: snapshot ``tcpladder explain --json`` of every input we have, and
compare two snapshots.

    scripts/compare-outputs snapshot DIR [--shared ../shared]
    scripts/compare-outputs compare OLD NEW

The inputs are the recorded fixtures (captures and every printed dialect of them), the
pasted-text fixtures, and, when ``--shared`` points at the steering repo's shared/ folder,
the five seed tutorials, tcpdump's test captures and expected outputs, and the peer
captures.  Each input's JSON (or its error message) is written to DIR under a name derived
from its path, so ``compare`` can say which input changed and where in its JSON.

Third-party inputs are read where they lie; nothing of them is copied into the repository.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def inputs(shared: Path | None) -> Iterator[Path]:
    fixtures = ROOT / "tests" / "fixtures"
    for p in sorted(fixtures.rglob("*")):
        if p.is_file() and p.suffix not in (".md", ".tsv") and not p.name.endswith(".tshark.tsv"):
            yield p
    if shared is None:
        return
    for sub in ("seeds", "corpus/tcpdump/pcap", "corpus/tcpdump/out", "corpus/peer/captures"):
        base = shared / sub
        if base.is_dir():
            yield from sorted(p for p in base.iterdir() if p.is_file())


def name_of(path: Path) -> str:
    """A file name for ``path``'s output; a fixture's is named by its path inside the
    checkout, so that snapshots made by two checkouts (a worktree of an older commit)
    compare."""
    full = path.resolve()
    key = str(full.relative_to(ROOT)) if full.is_relative_to(ROOT) else str(full)
    digest = hashlib.sha1(key.encode()).hexdigest()[:8]
    return f"{path.name}.{digest}.json"


def explain(path: Path) -> str:
    """What ``tcpladder explain PATH --json`` prints, or the error it reports."""
    from app.cli import main

    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(["explain", str(path), "--json"])
    except Exception as exc:  # a crash is an output too: it must stay (or stop being) one
        return json.dumps({"crash": f"{type(exc).__name__}: {exc}"})
    if rc:
        return json.dumps({"exit": rc, "stderr": err.getvalue()})
    return out.getvalue()


def snapshot(target: Path, shared: Path | None) -> int:
    target.mkdir(parents=True, exist_ok=True)
    count = 0
    for path in inputs(shared):
        (target / name_of(path)).write_text(explain(path))
        count += 1
    (target / "INDEX").write_text("\n".join(f"{name_of(p)}\t{p}" for p in inputs(shared)) + "\n")
    print(f"{count} inputs written to {target}")
    return 0


def first_difference(a: Any, b: Any, where: str = "") -> str | None:
    """The JSON path of the first place two documents differ."""
    if type(a) is not type(b):
        return f"{where or '/'}: {a!r:.80} != {b!r:.80}"
    if isinstance(a, dict):
        for k in a.keys() | b.keys():
            if k not in a or k not in b:
                return f"{where}/{k}: only in {'new' if k in b else 'old'}"
            got = first_difference(a[k], b[k], f"{where}/{k}")
            if got:
                return got
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{where}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            got = first_difference(x, y, f"{where}/{i}")
            if got:
                return got
        return None
    return None if a == b else f"{where or '/'}: {a!r:.80} != {b!r:.80}"


def compare(old: Path, new: Path) -> int:
    index = dict(line.split("\t", 1) for line in (old / "INDEX").read_text().splitlines() if line)
    same = differ = 0
    for name, path in sorted(index.items(), key=lambda kv: kv[1]):
        a_path, b_path = old / name, new / name
        if not b_path.exists():
            print(f"MISSING {path}")
            differ += 1
            continue
        a_text, b_text = a_path.read_text(), b_path.read_text()
        if a_text == b_text:
            same += 1
            continue
        where = first_difference(json.loads(a_text), json.loads(b_text))
        if where is None:  # same document, other key order or spacing
            same += 1
            continue
        differ += 1
        print(f"DIFFERS {path}: {where}")
    print(f"{same} identical, {differ} different")
    return 1 if differ else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("snapshot")
    s.add_argument("dir", type=Path)
    s.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    c = sub.add_parser("compare")
    c.add_argument("old", type=Path)
    c.add_argument("new", type=Path)
    args = ap.parse_args(argv)
    if args.cmd == "snapshot":
        shared = args.shared if args.shared.is_dir() else None
        return snapshot(args.dir, shared)
    return compare(args.old, args.new)


if __name__ == "__main__":
    sys.exit(main())
