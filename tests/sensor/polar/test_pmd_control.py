"""PMD control point: request bytes from the issues, responses, multi-packet replies, features."""

from __future__ import annotations

import struct

import pytest

from hipflex.sensor.polar.control import (
    PmdFeatures,
    PmdMeasurementStopped,
    PmdOpCode,
    PmdResponse,
    PmdResponseAssembler,
    PmdSettings,
    PmdStartSettings,
    PmdStatus,
    PmdStatusError,
    build_get_settings,
    build_sdk_mode,
    build_start,
    build_stop,
    parse_cp_indication,
    parse_cp_response,
    parse_features,
    parse_settings,
)
from hipflex.sensor.polar.frames import PmdDecodeError, PmdMeasurementType

ACC, ECG, GYRO = PmdMeasurementType.ACC, PmdMeasurementType.ECG, PmdMeasurementType.GYRO


def hx(s: str) -> bytes:
    return bytes.fromhex(s.replace(" ", ""))


def test_h10_acc_start_bytes() -> None:
    req = build_start(ACC, PmdStartSettings(sample_rate_hz=200, resolution_bits=16, range=8))
    assert req == hx("02 02 00 01 C8 00 01 01 10 00 02 01 08 00")


def test_h10_ecg_start_bytes() -> None:
    assert build_start(ECG, PmdStartSettings(130, 14)) == hx("02 00 00 01 82 00 01 01 0E 00")


def test_verity_acc_start_has_one_byte_channels() -> None:
    req = build_start(ACC, PmdStartSettings(52, 16, range=8, channels=3))
    assert req == hx("02 02 00 01 34 00 01 01 10 00 02 01 08 00 04 01 03")
    assert req.endswith(hx("04 01 03"))  # bleakheart #10: a 2-byte CHANNELS is rejected


def test_setting_values_must_fit_their_field() -> None:
    with pytest.raises(ValueError, match="CHANNELS"):
        PmdStartSettings(52, 16, channels=256).to_tlv()
    with pytest.raises(ValueError, match="SAMPLE_RATE"):
        PmdStartSettings(70000, 16).to_tlv()


def test_simple_requests() -> None:
    assert build_get_settings(ACC) == hx("01 02")
    assert build_get_settings(GYRO, sdk_mode=True) == hx("04 05")
    assert build_stop(ACC) == hx("03 02")
    assert build_sdk_mode(True) == hx("02 09")
    assert build_sdk_mode(False) == hx("03 09")


def test_start_reply_without_params() -> None:
    r = parse_cp_response(hx("f0 02 02 00 00"))
    assert r == PmdResponse(PmdOpCode.REQUEST_MEASUREMENT_START, ACC, PmdStatus.SUCCESS)
    assert r.ok and r.factor == 1.0
    assert r.raise_for_status() is r


def test_start_reply_factor_tlv() -> None:
    # polar-ble-sdk #226: Verity PPG start reply carrying FACTOR 1.0.
    r = parse_cp_response(hx("f0 02 01 00 00 05 01 00 00 80 3f"))
    assert r.params == hx("05 01 00 00 80 3f")
    assert r.settings().factor == 1.0 and r.factor == 1.0
    r = parse_cp_response(hx("f0 02 05 00 00 05 01") + struct.pack("<f", 2.44e-4))
    assert r.factor == pytest.approx(2.44e-4)


def test_already_in_state_and_error_statuses() -> None:
    r = parse_cp_response(hx("f0 02 02 06 00"))
    assert not r.ok and r.already_in_state and r.status == PmdStatus.ALREADY_IN_STATE == 6
    with pytest.raises(PmdStatusError, match="ALREADY_IN_STATE") as info:
        r.raise_for_status()
    assert info.value.status == 6
    mtu = parse_cp_response(hx("f0 02 02 0a 01 05 06"))
    assert mtu.status == PmdStatus.INVALID_MTU == 10
    assert not mtu.more and mtu.params == b""  # an error ends the response; params are ignored


def test_four_byte_response_accepted() -> None:
    assert parse_cp_response(hx("f0 03 02 00")) == PmdResponse(3, 2, 0)


@pytest.mark.parametrize("data", [hx("f0 02 02"), hx("0f 05 00 00 00"), b""])
def test_not_a_response(data: bytes) -> None:
    with pytest.raises(PmdDecodeError):
        parse_cp_response(data)


H10_ACC_SETTINGS = hx("00 04 19 00 32 00 64 00 C8 00 01 01 10 00 02 03 02 00 04 00 08 00")


def test_settings_tlv_parse() -> None:
    s = parse_settings(H10_ACC_SETTINGS)
    assert s == PmdSettings(sample_rate_hz=(25, 50, 100, 200), resolution_bits=(16,), range=(2, 4, 8))
    verity = parse_settings(hx("00 01 34 00 01 01 10 00 02 01 08 00 04 01 03 03 01 40 1F 00 00"))
    assert verity.channels == (3,) and verity.range_milliunit == (8000,)


def test_settings_lone_byte_is_empty_and_garbage_is_an_error() -> None:
    assert parse_settings(b"") == PmdSettings()
    assert parse_settings(b"\x00") == PmdSettings()
    with pytest.raises(PmdDecodeError, match="unknown setting type 7"):
        parse_settings(hx("07 01 00"))
    with pytest.raises(PmdDecodeError, match="SAMPLE_RATE"):
        parse_settings(hx("00 02 19 00 32"))
    with pytest.raises(PmdDecodeError, match="truncated"):
        parse_settings(hx("00 01 19 00 01"))


def test_security_setting_skipped() -> None:
    assert parse_settings(hx("06 01") + bytes(16) + hx("00 01 34 00")).sample_rate_hz == (52,)


def test_multi_packet_reply_concatenates_params() -> None:
    head = hx("f0 01 02 00")
    packets = [
        head + b"\x01" + H10_ACC_SETTINGS[:7],
        head + b"\x01" + H10_ACC_SETTINGS[7:15],
        head + b"\x00" + H10_ACC_SETTINGS[15:],
    ]
    state = PmdResponseAssembler()
    done = []
    for p in packets:
        state, r = state.feed(p)
        done.append(r)
    assert done[:2] == [None, None]
    final = done[2]
    assert final is not None and not final.more
    assert final.params == H10_ACC_SETTINGS
    assert final.settings().sample_rate_hz == (25, 50, 100, 200)
    assert state == PmdResponseAssembler()


def test_assembler_drops_incomplete_reply_on_mismatch(caplog: pytest.LogCaptureFixture) -> None:
    state, r = PmdResponseAssembler().feed(hx("f0 01 02 00 01 00 01"))
    assert r is None and state.pending is not None
    state, r = state.feed(hx("f0 02 02 00 00"))
    assert r == PmdResponse(2, 2, 0)
    assert "dropping incomplete" in caplog.text


def test_single_packet_reply_passes_straight_through() -> None:
    state, r = PmdResponseAssembler().feed(hx("f0 03 02 00 00"))
    assert r == PmdResponse(3, 2, 0) and state.pending is None


def test_feature_read() -> None:
    h10 = parse_features(hx("0f 05 00"))
    assert h10.measurements == frozenset({ECG, ACC})
    assert h10.supports(ACC) and not h10.supports(GYRO)
    verity = parse_features(hx("0f 6e 02"))  # PPG, ACC, PPI, GYRO, MAG + SDK mode
    assert verity.measurements >= {ACC, GYRO, PmdMeasurementType.MAG, PmdMeasurementType.SDK_MODE}
    assert ECG not in verity.measurements
    assert parse_features(hx("0f 04")) == PmdFeatures(frozenset({ACC}))
    with pytest.raises(PmdDecodeError, match="feature"):
        parse_features(hx("f0 02 02 00 00"))


def test_indication_classifies_device_stop() -> None:
    assert parse_cp_indication(hx("01 02 05")) == PmdMeasurementStopped((2, 5))
    assert isinstance(parse_cp_indication(hx("f0 03 02 00 00")), PmdResponse)
    with pytest.raises(PmdDecodeError):
        parse_cp_indication(hx("7e 00"))
