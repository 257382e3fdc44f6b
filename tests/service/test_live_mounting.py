"""How the sensor is strapped (face normal axis, placement, leg) reaches live sessions, uploads and ``record``.

The three settings only name the sets (never a count); a session keeps them with its settings, so its
``export.json`` stays ``hipflex analyze --json`` of its raw log with the same options.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import numpy as np
import pytest
from svc_kit import LiveServer, ws_messages

from hipflex.dsp import analyze
from hipflex.dsp.analysis_settings import Settings
from hipflex.dsp.mounting_prior import FACE_NORMAL_AXES
from hipflex.sensor.emulate.world import ENV_VAR
from hipflex.sensor.files.csv_io import write_csv
from hipflex.sensor.formats import load_samples
from hipflex.sensor.sim.body import Mounting
from hipflex.sensor.sim.programme import ProgrammeSimulation, simulate_programme
from hipflex.service.cli import main
from hipflex.service.commands import UsageError
from hipflex.service.commands.mounting_opts import FACE_NORMAL_CHOICES
from hipflex.service.commands.serve import add_arguments, build_service_settings
from hipflex.service.schemas import FaceNormalAxis


@pytest.fixture(scope="module")
def flat_abduction() -> ProgrammeSimulation:
    """Side-lying abduction without a gyro, strapped flat (+z out of the skin) on the outer side of the thigh."""
    mounting = Mounting.flat(np.random.default_rng(7), azimuth_range_deg=(80.0, 100.0))
    return simulate_programme("side_lying_abduction", fs_hz=52.0, has_gyro=False, seed=7, n_sets=1, mounting=mounting)


def test_the_option_choices_are_the_analysis_values() -> None:
    assert FACE_NORMAL_CHOICES == FACE_NORMAL_AXES == get_args(FaceNormalAxis)


def _cli_json(capsys: pytest.CaptureFixture[str], path: Path, *flags: str) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["analyze", "--json", str(path), *flags]) == 0
    doc: dict[str, Any] = json.loads(capsys.readouterr().out)
    return doc


@pytest.mark.slow
def test_a_session_names_its_sets_with_the_mounting_it_was_given(
    live_server: LiveServer, flat_abduction: ProgrammeSimulation, capsys: pytest.CaptureFixture[str]
) -> None:
    leg = flat_abduction.mounting.leg
    mounting = {"face_normal_axis": "+z", "sensor_placement": "lateral", "sensor_leg": leg}
    live_server.settings.capture_dir.mkdir(parents=True, exist_ok=True)
    write_csv(live_server.settings.capture_dir / "flat.csv", flat_abduction.samples)
    api = live_server.client
    r = api.post("/api/v1/sessions", json={"source": "replay", "capture_path": "flat.csv", "speed": 200, **mounting})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert {k: r.json()["params"][k] for k in mounting} == mounting
    msgs, code = ws_messages(f"{live_server.ws_url}/api/v1/sessions/{sid}/ws")
    final = live_server.wait_ended(sid)
    assert code == 1000 and final["status"] == "stopped"
    assert {k: final["settings"][k] for k in mounting} == mounting  # stored with the session

    doc = api.get(f"/api/v1/sessions/{sid}/export.json").json()
    samples = load_samples(live_server.settings.capture_dir / "flat.csv")  # as the replay read them
    direct = analyze(samples, Settings(**mounting)).to_dict()  # type: ignore[arg-type]
    assert {**doc, "source": ""} == {**direct, "source": ""}
    # The stored export is `hipflex analyze --json` of the raw log with the same options.
    flags = ["--face-normal-axis", "+z", "--sensor-placement", "lateral", "--sensor-leg", leg]
    raw_log = live_server.settings.capture_dir / final["raw_log"]
    assert doc == {**_cli_json(capsys, raw_log, *flags), "source": final["raw_log"]}
    # ... and the mounting is what named the set: without it the same samples are named otherwise.
    plain = analyze(samples).to_dict()
    assert doc["rep_count"] == plain["rep_count"] > 5  # naming only: the count is the same
    drills = [s["drill"] for s in doc["sets"]]
    assert drills and drills != [s["drill"] for s in plain["sets"]]
    assert all("face normal" in d["recognised_from"] for d in drills)
    # The set messages streamed live carry the drills of the stored export.
    live_sets = [m["set"] for m in msgs if m["type"] == "set"]
    assert [s["drill"] for s in api.get(f"/api/v1/sessions/{sid}/sets").json()] == drills
    assert live_sets and [s["drill"] for s in live_sets] == drills


@pytest.mark.slow
@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"face_normal_axis": "w"}, "face_normal_axis"),
        ({"face_normal_axis": "+z", "sensor_placement": "back"}, "sensor_placement"),
        ({"face_normal_axis": "+z", "sensor_leg": "middle"}, "sensor_leg"),
        ({"sensor_placement": "lateral"}, "sensor_placement"),  # a placement says nothing without the face normal
        ({"face_normal_axis": "z", "sensor_leg": "left"}, "sensor_leg"),  # the leg needs the sense of the normal
    ],
)
def test_a_bad_mounting_is_422_naming_the_field(live_server: LiveServer, extra: dict[str, str], field: str) -> None:
    r = live_server.client.post("/api/v1/sessions", json={"source": "simulator", **extra})
    assert r.status_code == 422, r.text
    assert field in r.json()["detail"] and "\n" not in r.json()["detail"]
    assert live_server.client.get("/api/v1/sessions").json()["total"] == 0
    up = live_server.client.post("/api/v1/analyze", params=extra, files={"file": ("x.csv", b"time_s,ax,ay,az\n")})
    assert up.status_code == 422 and field in up.json()["detail"]


def test_serve_takes_the_mounting_as_every_sessions_default(tmp_path: Path) -> None:
    import argparse

    p = argparse.ArgumentParser()
    add_arguments(p)
    base = ["--db", str(tmp_path / "h.db")]
    args = p.parse_args([*base, "--face-normal-axis=-y", "--sensor-placement", "front", "--sensor-leg", "left"])
    analysis = build_service_settings(args, "127.0.0.1").analysis
    assert (analysis.face_normal_axis, analysis.sensor_placement, analysis.sensor_leg) == ("-y", "front", "left")
    assert build_service_settings(p.parse_args(base), "127.0.0.1").analysis == Settings()
    with pytest.raises(UsageError, match="sensor_leg"):
        build_service_settings(p.parse_args([*base, "--face-normal-axis", "y", "--sensor-leg", "left"]), "127.0.0.1")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--face-normal-axis", "w"], "argument --face-normal-axis: invalid choice"),
        (["--sensor-placement", "lateral"], "sensor_placement"),
        (["--face-normal-axis", "x", "--sensor-leg", "right"], "sensor_leg"),
    ],
)
def test_record_refuses_a_bad_mounting_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, flags: list[str], message: str
) -> None:
    monkeypatch.setenv(ENV_VAR, "fake:h10")
    out = tmp_path / "s.jsonl"
    with pytest.raises(SystemExit) as exit_:  # argparse's own refusal, or the settings' through UsageError
        code = main(["record", "h10", "--out", str(out), "--duration", "1", *flags])
        raise SystemExit(code)
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and message in err[-1] and not out.exists()


@pytest.mark.slow
def test_record_analyses_live_with_the_mounting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, "fake:h10,speed=50")
    out = tmp_path / "s.jsonl"
    flags = ["--face-normal-axis", "+z", "--sensor-placement", "front", "--sensor-leg", "right"]
    assert main(["record", "Polar H10", "--out", str(out), "--duration", "40", "--json", *flags]) == 0
    captured = capsys.readouterr()
    live = json.loads(captured.out)
    assert (live["settings"]["face_normal_axis"], live["settings"]["sensor_leg"]) == ("+z", "right")
    assert f"analyse again with: hipflex analyze {out} {' '.join(flags)}" in captured.err
    # The capture replays to the live analysis with the same options, and they are what named the sets.
    assert _cli_json(capsys, out, *flags) == live
    assert live["sets"] and all("face normal" in s["drill"]["recognised_from"] for s in live["sets"])
    assert [s["drill"] for s in _cli_json(capsys, out)["sets"]] != [s["drill"] for s in live["sets"]]


@pytest.mark.slow
def test_an_interrupted_session_is_reanalysed_with_its_stored_mounting(
    tmp_path: Path, flat_abduction: ProgrammeSimulation
) -> None:
    # A regression guard (recovery already re-analyses with the stored settings): the mounting is among them.
    from hipflex.service.rawlog import SampleLog
    from hipflex.service.recovery import recover_sessions
    from hipflex.service.store import Store

    settings = Settings(face_normal_axis="+z", sensor_placement="lateral")
    store = Store(tmp_path / "db.sqlite")
    rec = store.create_session(
        source="replay", params={}, settings=settings.to_dict(), version="0", raw_log_dir=tmp_path
    )
    with SampleLog(Path(rec.raw_log), False) as log:
        log.append(flat_abduction.samples)
    assert recover_sessions(store) == [rec.id]
    got = store.get_session(rec.id)
    assert got is not None and got.analysis is not None and got.status == "recovered"
    logged = load_samples(Path(rec.raw_log), "csv")
    assert got.analysis == analyze(logged, settings, source=Path(rec.raw_log).name).to_dict()
    assert got.analysis["settings"]["face_normal_axis"] == "+z"
    assert all("face normal" in s["drill"]["recognised_from"] for s in got.analysis["sets"])


def test_a_minus_axis_may_follow_its_option_as_the_next_argument(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flat_abduction: ProgrammeSimulation
) -> None:
    # argparse took "-z" for the next option ("expected one argument") though it is one of the choices.
    path = tmp_path / "flat.csv"
    write_csv(path, flat_abduction.samples)
    joined = _cli_json(capsys, path, "--face-normal-axis=-z")
    spaced = _cli_json(capsys, path, "--face-normal-axis", "-z", "--sensor-placement", "lateral")
    assert spaced["settings"]["face_normal_axis"] == joined["settings"]["face_normal_axis"] == "-z"
    assert spaced["settings"]["sensor_placement"] == "lateral"
    assert [s["rep_count"] for s in spaced["sets"]] == [s["rep_count"] for s in joined["sets"]]


def test_only_the_signed_axis_values_are_joined_to_their_option() -> None:
    from hipflex.service.commands.mounting_opts import join_signed_axis

    assert join_signed_axis(["analyze", "--face-normal-axis", "-y", "f.csv"]) == [
        "analyze",
        "--face-normal-axis=-y",
        "f.csv",
    ]
    kept = ["analyze", "--face-normal-axis", "--json", "f.csv", "--", "--face-normal-axis", "-z"]
    assert join_signed_axis(kept) == kept  # a missing value stays an error; nothing after "--" is touched
