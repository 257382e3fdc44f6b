"""Attacks on a running server (issue 15): each test performs one against a real uvicorn server.

File reads through replay, hangs (FIFOs, wide headers, slow clients), races on
the session limit, cross-site requests, two servers on one data folder and a
damaged database.  Every test uses a handful of connections: they prove the
mechanism, not the capacity (``benchmarks/hostile_clients.py`` measures that).
"""

from __future__ import annotations

import os
from pathlib import Path

from svc_kit import LiveServer

from hipflex.sensor.csv_io import write_csv
from hipflex.sensor.simulate import simulate_drill

SECRET = "s3cr3t-c0ntent-line"


def _replay(live_server: LiveServer, path: str) -> tuple[int, str]:
    r = live_server.client.post("/api/v1/sessions", json={"source": "replay", "capture_path": path, "speed": 50},
                                timeout=20.0)  # fmt: skip
    return r.status_code, r.text


def test_replay_reads_only_the_capture_folder(live_server: LiveServer, tmp_path: Path) -> None:
    capture = live_server.settings.capture_dir
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.csv"
    secret.write_text(f"root:*:0:0:{SECRET}\ndaemon:x:1:1\n")
    good_outside = outside / "good.csv"
    write_csv(good_outside, simulate_drill("march", fs_hz=50.0, has_gyro=False, seed=3, n_sets=1).samples)

    # An absolute path outside: refused without reading it, the same answer whether it exists or not.
    code, text = _replay(live_server, str(secret))
    assert code == 422 and SECRET not in text and "capture folder" in text
    code_missing, text_missing = _replay(live_server, str(outside / "missing.csv"))
    assert code_missing == 422 and text_missing == text.replace("secret.csv", "missing.csv")
    # A valid recording outside is refused too (it would be copied into the capture folder and exportable).
    assert _replay(live_server, str(good_outside))[0] == 422
    # Climbing out of the folder, or a symbolic link inside it pointing out, is refused.
    assert _replay(live_server, "../outside/good.csv")[0] == 422
    os.symlink(good_outside, capture / "link.csv")
    assert _replay(live_server, "link.csv")[0] == 422
    # A relative path is read from the capture folder (not the server's working directory).
    write_csv(capture / "rec.csv", simulate_drill("march", fs_hz=50.0, has_gyro=False, seed=3, n_sets=1).samples)
    code, text = _replay(live_server, "rec.csv")
    assert code == 201, text
    # Errors about files in the folder never quote their content nor show the server's absolute paths.
    (capture / "bad.csv").write_text(f"time_s,acc_x_g,acc_y_g,acc_z_g\n0,0,0,1\n0.01,{SECRET},0,1\n" * 3)
    (capture / "foreign.csv").write_text(f"{SECRET},b,c\n1,2,3\n")
    for name in ("bad.csv", "foreign.csv"):
        code, text = _replay(live_server, name)
        assert code == 422 and SECRET not in text and str(capture) not in text and name in text, text


def test_replay_of_a_fifo_is_refused_at_once(live_server: LiveServer) -> None:
    fifo = live_server.settings.capture_dir / "pipe.csv"
    os.mkfifo(fifo)
    try:
        code, text = _replay(live_server, "pipe.csv")
        assert code == 422 and "not a regular file" in text
    finally:
        # Without the fix the server's thread waits in open() for a writer: give it one so teardown ends.
        fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
        os.close(fd)
