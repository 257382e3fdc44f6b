"""The live status says what the analysis is doing (issue 18.3): waiting for a still moment, learning the
axis, counting — read from the streaming state, sent when it changes, and matching the state at every chunk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from test_cli import T0, thigh_session

from hipflex.dsp.analysis_settings import Settings
from hipflex.dsp.types import ImuSamples
from hipflex.service.rawlog import SampleLog
from hipflex.service.store import Store
from hipflex.service.worker import PHASES, SessionWorker, analysis_phase

CHUNK_S = 0.25


Sent = list[tuple[float, str, list[dict[str, Any]]]]


def _stream(tmp_path: Path, samples: ImuSamples) -> Sent:
    """Feed ``samples`` to a session worker in chunks; per chunk: its last time, the state's phase after it,
    its status messages (first: the status sent at the start)."""
    store = Store(tmp_path / "db.sqlite")
    rec = store.create_session(source="simulator", params={}, settings=Settings().to_dict(), version="0",
                               raw_log_dir=tmp_path)  # fmt: skip
    worker = SessionWorker(rec.id, Settings(), samples.has_gyro, SampleLog(Path(rec.raw_log), samples.has_gyro),
                           store, 25.0)  # fmt: skip
    out: Sent = [(float("nan"), analysis_phase(worker.state), [worker.status()])]
    n = round(CHUNK_S * 100)
    cal_seen = False
    for i in range(0, len(samples), n):
        chunk = samples.slice(i, min(i + n, len(samples)))
        msgs = [m for m in worker.process(chunk, 0.0) if m["type"] == "status"]
        # The state's phase and the last status sent agree after every chunk (nothing stale).
        sent = [m for _, _, ms in out for m in ms] + msgs
        assert sent[-1]["phase"] == analysis_phase(worker.state), (chunk.time_s[-1], sent[-1])
        if worker.state.cal is not None and not cal_seen:
            cal_seen = True
            assert [m["phase"] for m in msgs][-1:] in (["learning_axis"], ["counting"]), msgs
        out.append((float(chunk.time_s[-1]), analysis_phase(worker.state), msgs))
    worker.finish("stopped")
    store.close()
    return out


def _phases(out: Sent) -> list[tuple[str, str, float]]:
    return [(m["state"], m["phase"], t) for t, _, ms in out for m in ms]


def test_still_start_waits_then_learns_the_axis_then_counts(tmp_path: Path) -> None:
    """3 s standing, then five reps: waiting until a still second is seen, learning the axis from then
    (while the athlete already lifts), counting once the kernel runs; each sent once, in that order."""
    sent = _phases(_stream(tmp_path, thigh_session()))
    assert [(s, p) for s, p, _ in sent] == [
        ("calibrating", "waiting_for_still"),
        ("calibrating", "learning_axis"),
        ("running", "counting"),
    ], sent
    t_learn = sent[1][2] - T0
    t_count = sent[2][2] - T0
    # A still second is known after 1 s of standing, well before the first lift at 3 s.
    assert 1.0 <= t_learn < 3.0, sent
    # The sign is confirmed over 8 s after the axis locks on the first lift (3.0-3.5 s).
    assert t_count >= 3.0 + Settings().sign_confirm_s - CHUNK_S, sent
    assert set(PHASES) == {p for _, p, _ in sent}


def test_moving_from_the_first_row_is_not_called_learning(tmp_path: Path) -> None:
    """A recording that starts mid-rep: while no still second has passed the status keeps saying
    "waiting for a still moment", not "learning" (the reps' 0.6 s rests are too short)."""
    samples = thigh_session(hold_s=0.2)
    start = int(3.2 * 100)  # into the first lift
    out = _stream(tmp_path, samples.slice(start, len(samples)))
    sent = _phases(out)
    assert sent[0][1] == "waiting_for_still"
    first_cal = next(t for t, phase, _ in out[1:] if phase != "waiting_for_still")
    learning = [t for s, p, t in sent if p != "waiting_for_still"]
    assert learning and min(learning) == first_cal, (sent, first_cal)
    # No still second among the reps: the rest pose is first known in the stand after the last one.
    assert first_cal >= T0 + 3.0 + 4 * (1.6 + 0.2), sent
