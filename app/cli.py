"""The ``tcpladder`` command: ``serve`` the web app, ``explain`` a file or stdin."""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from app import __version__
from app.decode import Analysis, Limits, TraceError, analyse, read_input, read_path, write_json


def _text_summary(result: dict[str, Any]) -> str:
    src = result["source"]
    lines = [
        f"{src['kind']}: {src['packet_count']} TCP packets, {len(result['flows'])} connections"
    ]
    for w in src["warnings"]:
        where = f"line {w['line']}: " if w.get("line") else ""
        lines.append(f"  warning: {where}{w['message']}")
    for f in result["flows"]:
        dur = f"{f['duration']:.6f} s" if f["duration"] is not None else "?"
        lines.append(
            f"#{f['id']} {f['client']} -> {f['server']}: {f['packet_count']} packets, "
            f"{f['bytes']} bytes, {dur}; {f['ending']['en']}"
        )
        for p in f.get("packets", []):
            seq = p["rel_seq"] if p["rel_seq"] is not None else "-"
            ack = p["rel_ack"] if p["rel_ack"] is not None else "-"
            arrow = "->" if p["direction"] == "c2s" else "<-"
            find = (" " + ",".join(p["findings"])) if p["findings"] else ""
            lines.append(
                f"  {p['n']:>5} {arrow} [{p['flags']}] seq {seq} ack {ack} len {p['len']} "
                f"win {p['win']}{' (=' + str(p['eff_win']) + ')' if p['eff_win'] is not None and p['eff_win'] != p['win'] else ''}"
                f"  {p['phase']}{find}"
            )
    return "\n".join(lines)


def _document(analysis: Analysis, *, summary: bool) -> dict[str, Any]:
    """The JSON document as Python data, for indenting or for the text summary."""
    buf = io.StringIO()
    write_json(analysis, buf, summary=summary)
    out: dict[str, Any] = json.loads(buf.getvalue())
    return out


def _return_freed_memory() -> None:
    """Big numpy temporaries come and go while a capture is analysed; have glibc give
    their memory back to the system instead of keeping the high-water mark (mallopt(3)):
    blocks of 16 MiB and more are mapped and given back when freed.  Smaller ones stay in
    the heap to be used again: at 1 MiB, every column of a million packets and every block
    of output was new pages each time (page faults for 250k packets' --json: 487,000 at
    1 MiB, 160,000 at 16 MiB; for 1M packets' --summary 932,000 and 293,000, system time
    4.0 and 1.8 s), for a peak about 10 MiB higher (391 MiB for 1M packets, in the analysis)."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, _GIVEN_BACK)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, _GIVEN_BACK)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


_GIVEN_BACK = 16 << 20


@contextlib.contextmanager
def _big_stdout() -> Iterator[TextIO]:
    """Standard output written a megabyte at a time (a big document is hundreds of
    megabytes; 8 KiB writes were a third of its system time), or as it is when it is no
    file (a test's capture)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        yield sys.stdout
        return
    sys.stdout.flush()
    enc, errors = sys.stdout.encoding, sys.stdout.errors
    with open(fd, "w", buffering=1 << 20, encoding=enc, errors=errors, closefd=False) as out:
        yield out


def cmd_explain(args: argparse.Namespace) -> int:
    _return_freed_memory()
    # a one-shot run makes millions of objects and no reference cycles worth collecting
    gc.disable()
    limits = Limits(max_input=args.max_input, max_expanded=args.max_input)
    try:
        if args.path == "-":
            trace = read_input(sys.stdin.buffer.read(), limits)
        else:
            trace = read_path(args.path, limits)
        analysis = analyse(trace)
    except OSError as exc:
        print(f"tcpladder: cannot read {args.path}: {exc.strerror}", file=sys.stderr)
        return 2
    except TraceError as exc:
        print(f"tcpladder: {args.path}: {exc}", file=sys.stderr)
        if exc.hint:
            print(f"  {exc.hint}", file=sys.stderr)
        return 2
    if args.json and not args.pretty:
        with _big_stdout() as out:
            write_json(analysis, out, summary=args.summary)
            out.write("\n")
        return 0
    result = _document(analysis, summary=args.summary)
    if args.json:
        json.dump(result, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    else:
        print(_text_summary(result))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from app.web.server import serve

    serve(args.host, args.port, args.log_level)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Take analysis jobs from the PostgreSQL queue (``TCPLADDER_QUEUE=procrastinate``)."""
    import logging

    from app.web.app import limits_of
    from app.web.settings import Settings

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    settings = Settings.from_env()
    if not settings.database_url or not settings.database_url.startswith("postgres"):
        print("tcpladder worker: set DATABASE_URL=postgresql://… (the queue's database)",
              file=sys.stderr)  # fmt: skip
        return 2
    from app.store import Store
    from app.store.queue import run_worker

    store = Store(settings.database_url, limits=limits_of(settings), lease=settings.lease)
    print(f"tcpladder worker: taking analysis jobs from {store.engine.url!r}", flush=True)
    run_worker(store, name=args.name)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tcpladder", description="Explain TCP packet traces.")
    parser.add_argument("--version", action="version", version=f"tcpladder {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("explain", help="analyse a capture or tcpdump text (PATH or - for stdin)")
    ex.add_argument("path")
    ex.add_argument("--json", action="store_true", help="print the JSON documented in docs/json.md")
    ex.add_argument("--summary", action="store_true", help="omit per-packet lists")
    ex.add_argument("--pretty", action="store_true", help="indent the JSON")
    ex.add_argument(
        "--max-input",
        type=int,
        default=1 << 36,
        help="refuse input (after decompression) bigger than this many bytes",
    )
    ex.set_defaults(func=cmd_explain)
    sv = sub.add_parser("serve", help="run the web app")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--log-level", default="info")
    sv.set_defaults(func=cmd_serve)
    wk = sub.add_parser("worker", help="analyse uploads from the PostgreSQL queue")
    wk.add_argument("--name", default=None, help="the worker's name in the queue's records")
    wk.add_argument("--log-level", default="info")
    wk.set_defaults(func=cmd_worker)
    args = parser.parse_args(argv)
    try:
        rc: int = args.func(args)
    except BrokenPipeError:
        # the reader went away (``tcpladder explain big.pcap --json | head``): stop quietly,
        # and keep Python from complaining again when it flushes stdout at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # as a shell reports a process ended by SIGPIPE
    return rc


if __name__ == "__main__":
    sys.exit(main())
