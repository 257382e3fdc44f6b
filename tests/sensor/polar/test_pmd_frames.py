"""PMD data frames: SDK test vectors, error handling, encoder round trips, kernel vs a slow twin."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hipflex.sensor.polar.frames import (
    PMD_EPOCH_UNIX_NS,
    PmdDecodeError,
    PmdMeasurementType,
    decode_pmd_frame,
    encode_acc_frame_raw,
    encode_delta_frame,
    encode_raw_frame,
    pmd_frame_format,
    raw_samples_per_frame,
)

ACC, GYRO = PmdMeasurementType.ACC, PmdMeasurementType.GYRO


def hx(s: str) -> bytes:
    return bytes.fromhex(s.replace(" ", "").replace("\n", ""))


# Timestamp 2_000_000_000 ns, as in the SDK's AccDataTest / GyrDataTest headers.
TS_2E9 = "00 94 35 77 00 00 00 00"

# polar-ble-sdk AccDataTest "process acc raw data frame type 1": 36 H10-format samples, mG.
SDK_ACC_RAW_TYPE1 = hx(
    "02" + TS_2E9 + "01"
    "F7 FF FF FF E7 03 F8 FF FE FF E5 03 F9 FF FF FF E5 03 FA FF FF FF E6 03 FA FF FE FF E6 03"
    "F9 FF FF FF E5 03 F8 FF FF FF E6 03 F8 FF FE FF E6 03 FA FF FF FF E5 03 FA FF FF FF E7 03"
    "FA FF FF FF E5 03 F8 FF FF FF E6 03 F7 FF FF FF E6 03 F8 FF FE FF E6 03 F9 FF FE FF E7 03"
    "F9 FF 00 00 E6 03 F9 FF FF FF E6 03 F7 FF FE FF E5 03 F9 FF FF FF E5 03 F9 FF FF FF E5 03"
    "FA FF 00 00 E6 03 F9 FF FE FF E6 03 F8 FF FF FF E6 03 F8 FF FF FF E5 03 F9 FF FF FF E6 03"
    "F9 FF FF FF E5 03 FA FF FF FF E6 03 F9 FF FF FF E5 03 F9 FF FF FF E5 03 F8 FF FE FF E6 03"
    "F9 FF FF FF E6 03 F9 FF FF FF E6 03 F9 FF 00 00 E5 03 F9 FF FE FF E6 03 F8 FF FE FF E6 03"
    "F7 FF FE FF E6 03"
)

# polar-ble-sdk AccDataTest "process acc compressed data type 0": reference + one 10-bit block of 56.
SDK_ACC_DELTA_TYPE0 = hx(
    "02" + TS_2E9 + "80"
    "71 07 F0 6A 9E 8D 0A 38 BE 5C BE BA 2F 96 B3 EE 4B E5 AD FB 42 B9 EB BE 4C FE BA 2F 92 BF"
    "EE 4B E4 B1 FB 12 B9 EC BD 3C 3E BB 2F 8F D3 DE 4B E3 B5 F7 D2 B8 ED BD 30 7E 7B 2F 8B E3"
    "CE 8B E2 BA F7 A2 B8 EE BC 20 BE 7B 2F 88 F3 CE CB E1 BD EF 52 F8 EF BC 18 FE 3B 2F 84 03"
    "BF CB E0 C2 EF 32 B8 F0 BB 04 4E BC 2E 81 13 AF 0B E0 C6 EF F2 F7 F1 B9 FC 7D BC 2E 7D 27"
    "9F 4B DF CA EB C2 F7 F2 B8 EC CD 7C 2E 7B 37 8F 4B DE CE E3 92 F7 F3 B8 E0 0D FD 2D 77 4B"
    "7F CB DD D2 DF 62 37 F5 B7 D4 4D BD 2D 74 5B 6F CB DC D7 D7 32 37 F6 B5 C8 8D 7D 2D 71 6B"
    "4F 4B DC DC D3 F2 36 F7 B4 BC DD FD 2C 6F 7B 3F 4B DB E0 CF D2 36 F8 B2 B0 2D BE 2C 6C 8F"
    "1F CB DA E3 C7 A2 76 F9"
)
SDK_ACC_DELTA_FACTOR = float(np.float32(2.44e-4))  # FACTOR the SDK test applies (float32)

# AccDataTest "process acc compressed data type 1" (Verity 0x81): one 6-bit block of 1.
SDK_ACC_DELTA_TYPE1 = hx("02 65 00 00 00 00 00 00 00 81 F1 FF 14 00 F0 03 06 01 7B 0F 08")

# GyrDataTest "process gyro compressed data type 0": timestamp 2**63 - 1, one 3-bit block of 1.
SDK_GYRO_DELTA_TYPE0 = hx("05 FF FF FF FF FF FF FF 7F 80 EA FF 08 00 0D 00 03 01 DF 00")

# GyrDataTest "process gyro compressed data type 1": float32 bit patterns, one 28-bit block.
SDK_GYRO_DELTA_TYPE1 = hx(
    "05" + TS_2E9 + "81 00 00 80 3F 00 00 20 41 00 00 A0 41 1C 01 00 00 A0 01 00 00 08 CD CC EC 0D"
)


# ---------------------------------------------------------------------------------------------
# A slow, obviously-correct twin of the delta decoder: one bit at a time with Python ints.


def naive_delta_decode(payload: bytes, channels: int, resolution_bits: int) -> list[list[int]]:
    width = (resolution_bits + 7) // 8
    ref = []
    for c in range(channels):
        v = int.from_bytes(payload[c * width : (c + 1) * width], "little") & ((1 << resolution_bits) - 1)
        if v >> (resolution_bits - 1):
            v -= 1 << resolution_bits
        ref.append(v)
    samples = [ref]
    pos = channels * width
    while pos < len(payload):
        w, n = payload[pos], payload[pos + 1]
        pos += 2
        nbytes = (w * n * channels + 7) // 8
        block = payload[pos : pos + nbytes]
        assert len(block) == nbytes
        bit = 0
        for _ in range(n):
            row = []
            for c in range(channels):
                d = 0
                for j in range(w):
                    d |= ((block[(bit + j) // 8] >> ((bit + j) % 8)) & 1) << j
                bit += w
                if w and d >> (w - 1):
                    d -= 1 << w
                row.append(samples[-1][c] + d)
            samples.append(row)
        pos += nbytes
    return samples


# ---------------------------------------------------------------------------------------------
# SDK vectors


def test_sdk_raw_acc_type1_h10_format() -> None:
    f = decode_pmd_frame(SDK_ACC_RAW_TYPE1)
    assert f.measurement is ACC and f.frame_type == 0x01 and not f.compressed
    assert f.timestamp_ns == 2_000_000_000
    assert f.n_samples == 36
    assert f.counts[0].tolist() == [-9, -1, 999]
    assert f.counts[1].tolist() == [-8, -2, 997]
    assert f.values[0].tolist() == [-0.009, -0.001, 0.999]  # mG -> g
    assert f.unit == "g"


def test_sdk_compressed_acc_type0_reference_and_first_deltas() -> None:
    f = decode_pmd_frame(SDK_ACC_DELTA_TYPE0, factor=SDK_ACC_DELTA_FACTOR)
    assert f.frame_type == 0x80 and f.compressed
    assert f.n_samples == 57
    assert f.counts[0].tolist() == [1905, 27376, -29282]
    assert (f.counts[1] - f.counts[0]).tolist() == [190, -105, -85]
    # Type 0 arrives in G: g = counts x FACTOR (the SDK's x1000 gives mG, which we undo).
    np.testing.assert_array_equal(f.values, f.counts * SDK_ACC_DELTA_FACTOR)
    # The SDK test checks every sample is inside the +/-8 g range it was recorded at.
    assert np.abs(f.values).max() <= 8.0
    assert f.counts.tolist() == naive_delta_decode(SDK_ACC_DELTA_TYPE0[10:], 3, 16)


def test_sdk_compressed_acc_type1_verity() -> None:
    f = decode_pmd_frame(SDK_ACC_DELTA_TYPE1)
    assert f.timestamp_ns == 0x65
    assert f.counts.tolist() == [[-15, 20, 1008], [-20, 17, 1008]]
    np.testing.assert_array_equal(f.values, f.counts / 1000.0)


def test_sdk_compressed_gyro_type0() -> None:
    f = decode_pmd_frame(SDK_GYRO_DELTA_TYPE0)
    assert f.measurement is GYRO and f.unit == "deg/s"
    assert f.timestamp_ns == 2**63 - 1
    assert f.values.tolist() == [[-22.0, 8.0, 13.0], [-23.0, 11.0, 16.0]]


def test_gyro_factor_scales_every_sample() -> None:
    f = decode_pmd_frame(SDK_GYRO_DELTA_TYPE0, factor=0.5)
    assert f.values.tolist() == [[-11.0, 4.0, 6.5], [-11.5, 5.5, 8.0]]
    assert f.counts.tolist() == [[-22, 8, 13], [-23, 11, 16]]


def test_sdk_compressed_gyro_type1_float_bits_wrap_32() -> None:
    f = decode_pmd_frame(SDK_GYRO_DELTA_TYPE1)
    expected = np.array([[0x3F800000, 0x41200000, 0x41A00000], [0x41200000, 0x41A00000, 0x3F8CCCCD]])
    np.testing.assert_array_equal(f.counts, expected)
    assert f.values[0].tolist() == [1.0, 10.0, 20.0]
    assert f.values[1].tolist() == [10.0, 20.0, float(np.float32(1.1))]
    half = decode_pmd_frame(SDK_GYRO_DELTA_TYPE1, factor=0.5)
    np.testing.assert_array_equal(half.values, f.values * 0.5)


def test_ble_md_gyro_block_bytes_decode_to_documented_deltas() -> None:
    # ble.md 1.7: block 03 01 DF 00 = W 3, N 1, deltas (-1, +3, +3).
    payload = SDK_GYRO_DELTA_TYPE0[10:]
    assert naive_delta_decode(payload, 3, 16)[1] == [-23, 11, 16]


def test_timestamp_unix_conversion() -> None:
    f = decode_pmd_frame(SDK_ACC_RAW_TYPE1)
    assert f.timestamp_unix_ns == 2_000_000_000 + PMD_EPOCH_UNIX_NS
    assert PMD_EPOCH_UNIX_NS == 946_684_800 * 10**9


def test_raw_int8_and_int24_layouts() -> None:
    f8 = decode_pmd_frame(encode_raw_frame(ACC, 0x00, 7, [[-128, 127, -1]]))
    assert f8.counts.tolist() == [[-128, 127, -1]]
    f24 = decode_pmd_frame(hx("02 07 00 00 00 00 00 00 00 02 FF FF 7F 00 00 80 FE FF FF"))
    assert f24.counts.tolist() == [[2**23 - 1, -(2**23), -2]]


def test_h10_ecg_int24_microvolts() -> None:
    f = decode_pmd_frame(hx("00 01 00 00 00 00 00 00 00 00 E8 03 00 18 FC FF"))
    assert f.unit == "uV" and f.values.tolist() == [[1000.0], [-1000.0]]


# ---------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (hx("02 00 00 00"), "header"),
        (hx("01 00 00 00 00 00 00 00 00 00 01 02 03"), "PPG"),
        (hx("3F 00 00 00 00 00 00 00 00 00 01 02 03"), "unknown measurement"),
        (hx("02 00 00 00 00 00 00 00 00 03 01 02 03"), "raw type 3"),
        (hx("02 00 00 00 00 00 00 00 00 82 01 02 03"), "compressed type 2"),
        (SDK_ACC_RAW_TYPE1[:-1], "truncated"),
        (SDK_ACC_RAW_TYPE1[:10], "truncated"),
        (SDK_GYRO_DELTA_TYPE0[:14], "reference sample"),
        (SDK_GYRO_DELTA_TYPE0[:17], "truncated delta block header"),
        (SDK_GYRO_DELTA_TYPE0[:19], "truncated delta block"),
        (SDK_GYRO_DELTA_TYPE0[:16] + hx("21 01") + bytes(13), "bit width"),
        (SDK_GYRO_DELTA_TYPE0[:16] + hx("03 00"), "zero samples"),
        (SDK_GYRO_DELTA_TYPE0[:16] + hx("00 00"), "zero samples"),
        (SDK_ACC_DELTA_TYPE0[:-1], "truncated delta block"),
    ],
)
def test_bad_frames_raise_one_error_class(data: bytes, fragment: str) -> None:
    with pytest.raises(PmdDecodeError, match=fragment):
        decode_pmd_frame(data)


def test_zero_width_block_repeats_the_previous_sample() -> None:
    f = decode_pmd_frame(SDK_GYRO_DELTA_TYPE0 + hx("00 02"))
    assert f.counts.tolist() == [[-22, 8, 13], [-23, 11, 16], [-23, 11, 16], [-23, 11, 16]]


def test_decode_error_is_a_value_error() -> None:
    assert issubclass(PmdDecodeError, ValueError)


def test_non_finite_factor_rejected() -> None:
    with pytest.raises(PmdDecodeError, match="FACTOR"):
        decode_pmd_frame(SDK_ACC_RAW_TYPE1, factor=float("nan"))


def test_offline_bit_in_measurement_byte_is_masked() -> None:
    data = bytearray(SDK_ACC_RAW_TYPE1)
    data[0] |= 0x40  # only the low 6 bits name the measurement
    assert decode_pmd_frame(bytes(data)).measurement is ACC


# ---------------------------------------------------------------------------------------------
# Encoders


def test_encode_raw_reproduces_sdk_bytes() -> None:
    f = decode_pmd_frame(SDK_ACC_RAW_TYPE1)
    assert encode_raw_frame(ACC, 0x01, f.timestamp_ns, f.counts) == SDK_ACC_RAW_TYPE1
    assert encode_acc_frame_raw(f.timestamp_ns, f.values) == SDK_ACC_RAW_TYPE1


def test_encode_delta_reencodes_sdk_frame_with_minimal_width() -> None:
    f = decode_pmd_frame(SDK_ACC_DELTA_TYPE0)
    again = encode_delta_frame(ACC, 0x80, f.timestamp_ns, f.counts)
    # Deltas span -150..190, so 9 bits suffice where the firmware used 10.
    assert again[16:18] == bytes([9, 56])
    assert len(again) < len(SDK_ACC_DELTA_TYPE0)
    np.testing.assert_array_equal(decode_pmd_frame(again).counts, f.counts)


def test_encode_delta_reproduces_gyro_vector() -> None:
    f = decode_pmd_frame(SDK_GYRO_DELTA_TYPE0)
    assert encode_delta_frame(GYRO, 0x80, f.timestamp_ns, f.counts) == SDK_GYRO_DELTA_TYPE0


def test_encode_acc_raw_saturates_like_the_adc() -> None:
    f = decode_pmd_frame(encode_acc_frame_raw(1, [[40.0, -40.0, 0.0004]]))
    assert f.counts.tolist() == [[32767, -32768, 0]]


def test_encoders_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="16-bit range"):
        encode_raw_frame(ACC, 0x01, 0, [[40000, 0, 0]])
    with pytest.raises(ValueError, match="shape"):
        encode_delta_frame(ACC, 0x81, 0, [[1, 2]])
    with pytest.raises(ValueError, match="compressed"):
        encode_raw_frame(ACC, 0x81, 0, [[1, 2, 3]])
    with pytest.raises(ValueError, match="raw"):
        encode_delta_frame(ACC, 0x01, 0, [[1, 2, 3]])
    with pytest.raises(ValueError, match="u64"):
        encode_raw_frame(ACC, 0x01, -1, [[1, 2, 3]])
    with pytest.raises(ValueError, match="block_samples"):
        encode_delta_frame(ACC, 0x81, 0, [[1, 2, 3]], block_samples=256)


def test_raw_samples_per_frame_h10_mtu_232() -> None:
    assert raw_samples_per_frame(ACC, 0x01, 232) == 36  # ble.md 1.8: (229 - 10) / 6
    assert raw_samples_per_frame(ACC, 0x01, 23) == 1
    with pytest.raises(ValueError):
        raw_samples_per_frame(ACC, 0x01, 18)


int16 = st.integers(-(2**15), 2**15 - 1)
timestamps = st.integers(0, 2**64 - 1)


@st.composite
def count_arrays(draw: st.DrawFn, lo: int, hi: int, channels: int = 3, max_n: int = 300) -> np.ndarray:
    n = draw(st.integers(1, max_n))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    # Random walks with random step sizes exercise every delta width; clip to the range.
    step = draw(st.sampled_from([1, 3, 40, 1000, 70000]))
    walk = rng.integers(lo, hi, size=(1, channels)) + np.cumsum(rng.integers(-step, step + 1, (n, channels)), 0)
    return np.clip(walk, lo, hi).astype(np.int64)


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(
    counts=count_arrays(-(2**15), 2**15 - 1),
    ts=timestamps,
    fmt=st.sampled_from([0x80, 0x81]),
    block=st.integers(1, 255),
)
def test_delta_round_trip(counts: np.ndarray, ts: int, fmt: int, block: int) -> None:
    data = encode_delta_frame(ACC, fmt, ts, counts, block_samples=block)
    f = decode_pmd_frame(data)
    np.testing.assert_array_equal(f.counts, counts)
    assert f.timestamp_ns == ts
    assert encode_delta_frame(ACC, fmt, ts, f.counts, block_samples=block) == data
    # Each block header carries the smallest width that holds its deltas.
    pos, deltas, row = 16, np.diff(counts, axis=0), 0
    while pos < len(data):
        w, n = data[pos], data[pos + 1]
        d = deltas[row : row + n]
        assert d.min() >= -(2 ** (w - 1)) and d.max() < 2 ** (w - 1)
        if w > 1:
            assert d.min() < -(2 ** (w - 2)) or d.max() >= 2 ** (w - 2)
        pos, row = pos + 2 + (w * n * 3 + 7) // 8, row + n


@settings(max_examples=60, deadline=None)
@given(counts=count_arrays(-(2**31), 2**31 - 1, max_n=40), block=st.integers(1, 255))
def test_float_bit_delta_round_trip(counts: np.ndarray, block: int) -> None:
    data = encode_delta_frame(GYRO, 0x81, 5, counts, block_samples=block)
    np.testing.assert_array_equal(decode_pmd_frame(data).counts, counts)


@pytest.mark.slow
@settings(max_examples=100, deadline=None)
@given(counts=count_arrays(-(2**15), 2**15 - 1), ts=timestamps)
def test_raw_round_trip_counts_and_g(counts: np.ndarray, ts: int) -> None:
    f = decode_pmd_frame(encode_raw_frame(ACC, 0x01, ts, counts))
    np.testing.assert_array_equal(f.counts, counts)
    np.testing.assert_array_equal(f.values, counts / 1000.0)
    assert encode_acc_frame_raw(ts, f.values) == encode_raw_frame(ACC, 0x01, ts, counts)


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(data=st.data(), channels=st.sampled_from([1, 3, 4]), resolution=st.sampled_from([8, 16, 22, 24]))
def test_kernel_matches_naive_twin_on_arbitrary_blocks(data: st.DataObject, channels: int, resolution: int) -> None:
    """Arbitrary (also non-minimal) widths and garbage padding bits, straight from bytes."""
    from hipflex.sensor.polar.frames import _decode_delta_kernel

    ref = data.draw(st.binary(min_size=channels * ((resolution + 7) // 8), max_size=channels * ((resolution + 7) // 8)))
    payload = bytearray(ref)
    for _ in range(data.draw(st.integers(0, 4))):
        w, n = data.draw(st.integers(0, 32)), data.draw(st.integers(1, 40))
        payload += bytes([w, n]) + data.draw(
            st.binary(min_size=(w * n * channels + 7) // 8, max_size=(w * n * channels + 7) // 8)
        )
    out, status, _ = _decode_delta_kernel(np.frombuffer(bytes(payload), np.uint8), channels, resolution)
    assert status == 0
    assert out.tolist() == naive_delta_decode(bytes(payload), channels, resolution)


def test_format_table_lookup() -> None:
    fmt = pmd_frame_format(ACC, 0x81)
    assert fmt.compressed and fmt.channels == 3 and fmt.resolution_bits == 16 and fmt.unit == "g"
    assert not pmd_frame_format(ACC, 0x01).compressed
