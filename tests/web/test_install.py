"""A regular, non-editable install serves: the wheel carries templates/ and static/ (as
data files under its prefix) and the example, and a server started from another directory
finds them and keeps its data there."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import urllib.request
import venv
from pathlib import Path

from tests.server import ROOT, free_port, serve


def test_a_wheel_installed_elsewhere_serves(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = wheels.glob("tcpladder-*.whl")
    env_dir = tmp_path / "venv"
    # the fresh venv's own pip: installing with this environment's pip (even with --prefix)
    # would first uninstall this environment's own tcpladder
    venv.create(env_dir, with_pip=True)
    py = str(env_dir / "bin" / "python")
    target = subprocess.run(
        [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    subprocess.run(
        [py, "-m", "pip", "install", "--no-deps", "-q", "--no-index", str(wheel)], check=True
    )
    assert (env_dir / "share" / "tcpladder" / "templates" / "base.html").is_file()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    deps = sysconfig.get_paths()["purelib"]
    env = {"PYTHONPATH": os.pathsep.join([target, deps])}
    port = free_port()
    proc = serve(port, data=elsewhere / "data", python=py, cwd=elsewhere, env=env, workers=0)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
            assert r.status == 200 and b"tcpladder" in r.read()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/app.js", timeout=10) as r:
            assert r.status == 200
        where = subprocess.run(
            [py, "-c", "import app, app.web.settings as s; print(app.__file__, s.SHARE)"],
            capture_output=True,
            text=True,
            cwd=elsewhere,
            env=dict(os.environ, **env),
            check=True,
        ).stdout
        assert str(ROOT / "app") not in where and "share/tcpladder" in where
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    # this environment's own install is left as it was
    shown = subprocess.run([sys.executable, "-m", "pip", "show", "-q", "tcpladder"])
    assert shown.returncode == 0
