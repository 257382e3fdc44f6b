"""A live session whose analysis revises its rest pose (dsp.rest_pose) keeps the store and the clients right.

The analysis was first calibrated in a hold; once the wait between sets shows where the thigh rests,
it re-learns the rest pose and reports angles and reps from the first row again.  What was stored and
sent before is void: the store forgets it, clients get a ``revised`` status, and the angle trace starts
again at the first row (the decimator would otherwise drop it as already sent)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hipflex.dsp import analyze
from hipflex.dsp.analysis_settings import Settings
from hipflex.sensor.sim.wide import draw_wide_case, simulate_wide
from hipflex.service.rawlog import SampleLog
from hipflex.service.store import Store
from hipflex.service.worker import SessionWorker

# A widened-simulator hold session (gyro, 200 Hz) that starts with the first set at once: the first
# still stretch is the top of a hold (see tests/dsp/test_rest_revision.py).
SEED = 144
CHUNK_ROWS = 50


def test_a_revised_calibration_replaces_what_was_stored_and_sent(tmp_path: Path) -> None:
    samples = simulate_wide(draw_wide_case(SEED)).samples
    settings = Settings()
    store = Store(tmp_path / "db.sqlite")
    rec = store.create_session(source="simulator", params={}, settings=settings.to_dict(), version="0",
                               raw_log_dir=tmp_path)  # fmt: skip
    worker = SessionWorker(rec.id, settings, samples.has_gyro, SampleLog(Path(rec.raw_log), samples.has_gyro),
                           store, 25.0)  # fmt: skip
    sent: list[dict[str, Any]] = []
    stored_before: list[dict[str, Any]] = []
    for i in range(0, len(samples), CHUNK_ROWS):
        msgs = worker.process(samples.slice(i, min(i + CHUNK_ROWS, len(samples))), 0.0)
        at = [k for k, m in enumerate(msgs) if m["type"] == "status" and m.get("revised")]
        if at:
            stored_before = list(sent)
            # Right after the revising chunk the store holds only what this chunk reported after the revision.
            now = [m["rep"]["peak_s"] for m in msgs[at[-1] :] if m["type"] == "rep"]
            assert [r["peak_s"] for r in store.reps(rec.id)] == now
        sent.extend(msgs)
    revised = [k for k, m in enumerate(sent) if m["type"] == "status" and m.get("revised")]
    assert len(revised) == 1, "the session was expected to revise its rest pose once"
    before = [m for m in stored_before if m["type"] == "rep"]
    assert before, "reps were reported before the revision"
    after = sent[revised[0] + 1 :]

    # While the session still runs, the store holds exactly the reps sent after the revision.
    live_reps = [m for m in after if m["type"] == "rep"]
    stored = store.reps(rec.id)
    assert [r["peak_s"] for r in stored] == [m["rep"]["peak_s"] for m in live_reps]
    assert [r["number"] for r in stored] == list(range(len(stored)))
    assert {s["index"] for s in store.sets(rec.id)} <= {m["set_index"] for m in live_reps}

    # The angle trace starts again at the first row.
    angles = [m for m in after if m["type"] == "angle"]
    assert angles and angles[0]["t"][0] <= float(samples.time_s[0]) + 0.05

    # And the session ends with the batch analysis' reps, in the store as in the messages.
    final, msgs = worker.finish("stopped")
    batch = analyze(samples, settings)
    peaks = [r.peak_s for s in batch.sets for r in s.reps]
    assert [r.peak_s for s in final.sets for r in s.reps] == peaks
    streamed = [m["rep"]["peak_s"] for m in after + msgs if m["type"] == "rep"]
    assert streamed == [round(p, 4) for p in peaks]
    store.close()


def test_clearing_a_session_forgets_its_reps_and_sets_and_nothing_else(tmp_path: Path) -> None:
    # A revision may re-report fewer reps or sets than were stored (e.g. reps taken in the wrong
    # rest pose): rows left over would otherwise stay with numbers the new analysis never reaches.
    from hipflex.dsp.sets import make_set
    from hipflex.dsp.types import Rep

    store = Store(tmp_path / "db.sqlite")
    ids = []
    for _ in range(2):
        rec = store.create_session(source="simulator", params={}, settings=Settings().to_dict(), version="0",
                                   raw_log_dir=tmp_path)  # fmt: skip
        reps = [Rep(i, 10.0 * i, 10.0 * i + 0.3, 10.0 * i + 0.6, 80.0, 78.0, 0.2, 400.0, 200.0, 0.1, 1.0)
                for i in range(3)]  # fmt: skip
        for i, r in enumerate(reps):
            store.add_rep(rec.id, i, 0, r)
        store.put_set(rec.id, make_set(0, reps, []), closed=False)
        ids.append(rec.id)
    store.clear_results(ids[0])
    assert store.reps(ids[0]) == [] and store.sets(ids[0]) == []
    assert len(store.reps(ids[1])) == 3 and len(store.sets(ids[1])) == 1
    store.close()
