"""Named slots of the flat arrays that carry kernel parameters and state.

numba kernels take contiguous float64/int64 arrays; these module-level
integer constants are compile-time constants inside the kernels, so the
names cost nothing at run time and keep the kernels readable.
"""

from __future__ import annotations

from hipflex.dsp.units import STANDARD_GRAVITY_MPS2

__all__: list[str] = []  # private module: imported by name only inside hipflex.dsp

G0_MPS2 = STANDARD_GRAVITY_MPS2
DEG = 0.017453292519943295  # radians per degree
RAD = 57.29577951308232  # degrees per radian

# ---- parameters (float64) -------------------------------------------------
P_MIN_ROM = 0
P_CAND = 1
P_ONSET_FRAC = 2
P_HOLD_BAND = 3
P_SETTLE_S = 4
P_MAX_INTERP_S = 5
P_LEVER_M = 6
P_TILT_TAU = 7
P_ACC_RANGE = 8  # 0 = auto-detect plateaus at 2/4/8/16 g
P_HAS_GYRO = 9
P_U = 10  # 10..12 thigh "up" (gravity at standing), sensor frame
P_W = 13  # 13..15 anterior direction of the thigh, sensor frame
P_A = 16  # 16..18 flexion axis a = w x u, sensor frame
P_STILL_GYR = 19
P_EKF_Q = 20  # jerk spectral density, (rad/s^3)^2 / Hz
P_EKF_R = 21  # accelerometer measurement std, g
P_BIAS_TAU = 22
P_OFFSET_M = 23  # prior anterior offset of the sensor from the femur axis, m
P_G_CAL = 24  # |accelerometer| during the calibration stand, in the sensor's g
P_ID = 25  # 1 while identifying the lever arm: the pendulum filter sums F_NLL
P_THETA_MAX = 26  # pendulum filter: largest flexion angle, rad
P_THETA_MIN = 27  # pendulum filter: largest extension, as a (negative) angle, rad
P_ZUPT_S = 28  # pendulum filter: stillness time before a zero-velocity update, s (0 = never)
P_SET_GAP_S = 29  # detector: a pause in motion this long ends an unconfirmed rise, s
P_AX_WATCH = 30  # 1: the rep axis is learned again at a set in another plane or pose (_kern_axis, _kern_axis_acc)
P_AX_COS_LOCK = 31  # cos(lock_deg): a tilt this far from the last still pose ends a rest (axis watch)
P_AX_COS_DECIDE = 32  # cos(min(lock_deg, min_rom_deg)): the tilt at which a set's plane is read
P_AX_COS_DECIDE_POSE = 33  # cos(min(lock_deg, candidate_deg)): the same from a rest in another pose
P_AX_ROT = 34  # 1: the angle is the rotation about P_A = up (integrated gyro; hip rotation, _kern_axis)
P_ZUPT_COS = 35  # pendulum filter: cos of the drift that ends a still stretch (_kernel_setup._zupt_drift_deg)
# A lying thigh's lever (accelerometer only; _kernel_setup, _kern_axis_acc._acc_decide): a set from a
# rest whose "up" lies along the thigh (standing) takes the hanging lever and bound, any other the lying.
P_LIE_AXIS = 36  # 36..38 the thigh's long axis, sensor frame (zeros: no lying lever, nothing switched)
P_LIE_LEVER = 39  # 39..40 the lying lever's (lever, offset), m
P_HANG_LEVER = 41  # 41..42 the hanging thigh's (lever, offset), m: the settings'
P_LIE_THETA_MAX = 43  # the lying lever's flexion bound, rad
P_HANG_THETA_MAX = 44  # the hanging thigh's flexion bound, rad
P_N = 45

# ---- float state ------------------------------------------------------------
F_T_HAT = 0  # reconstructed time of the last processed sample, s
F_PERIOD = 1  # sample period, s (tracked by a phase-locked loop)
F_PREV_ACC = 2  # 2..4 last raw accelerometer row, g (for bridging gaps)
F_PREV_GYR = 5  # 5..7 last raw gyro row, deg/s
F_UP = 8  # 8..10 world "up" in the sensor frame
F_BIAS = 11  # 11..13 gyro bias, deg/s
F_PREV_W = 14  # 14..16 previous bias-corrected rate, rad/s
F_PREV_OA = 17  # previous flexion rate, rad/s
F_REST_S = 18  # time at rest so far, s
F_PG_S = 19  # remaining time of the post-gap window (gyro), s; > 0 while it runs
F_X = 20  # 20..22 pendulum filter state: theta rad, rate rad/s, accel rad/s^2
PX = 3  # size of the pendulum filter state
F_P = 23  # 23..31 its 3x3 covariance, row-major
F_LOW = 32
F_PEAK = 33
F_TROUGH = 34
F_CAND_PEAK = 35
F_PREV_RAW = 36  # 36..38 last accelerometer row as received (clip plateau test)
F_LOST_S = 39
F_LAST_SIGMA = 40
F_G_EST = 41  # pendulum filter: gravity magnitude, tracked at rest, in the sensor's g
F_PG_SUM = 42  # 42..44 post-gap window: sum of compensated specific force, current sensor frame
F_PG_CNT = 45  # post-gap window: rows since the sum (re)started (-1: not yet, the gap's bridge)
F_NLL = 46  # pendulum filter: negative log-likelihood of its innovations (with P_ID)
F_ZLP = 47  # 47..49 pendulum filter: low-passed specific force, g (stillness test)
F_ZSTILL_S = 50  # pendulum filter: how long the specific force has looked still, s
F_REANCHOR_S = 51  # pendulum filter: remaining re-convergence time after a re-anchor, s
F_REST_DIFF_DEG = 52  # tilt filter: largest |F_REST_DIFF_LP| so far, deg
F_REST_DIFF_LP = 53  # tilt filter: accelerometer angle - filter angle at rest, low-passed, deg
F_REST_AVG_S = 54  # tilt filter: time F_REST_DIFF_LP has averaged in this rest, s (0: not at rest)
F_MREF = 55  # detector: angle at the start of the current motionless stretch, deg (NaN: none)
F_MT0 = 56  # detector: time that stretch started, s
F_RLOW = 57  # detector: lowest angle since the thigh rested during an unconfirmed rise, deg
F_JOLT = 58  # pendulum filter: size of the last innovation (what the swing model did not explain), g
F_PREV_W2 = 59  # 59..61 bias-corrected rate two samples back, rad/s (tilt filter's quadrature)
F_AX_REF = 62  # 62..64 axis watch: "up" at the thigh's last still pose, sensor frame
F_AX_QUIET_S = 65  # axis watch: time the thigh has stayed within lock_deg of that pose, s
F_ID_NIS = 66  # pendulum filter: sum of the capped NIS terms in F_NLL (with P_ID; identify.py's fit scale)
F_ID_N = 67  # pendulum filter: number of innovations summed into F_NLL (with P_ID)
F_AX_YAW = 68  # with P_AX_ROT: the rotation about P_A integrated from the first row, deg
F_PG_MAX_SHIFT = 69  # post-gap window: largest re-anchoring it may make, deg (0: any)
F_AX_SNAP = 70  # 70..74 axis watch without a gyro: F_ZLP (3), F_ZSTILL_S, F_G_EST after a hold's first row
F_AX_ANCHOR = 75  # 75..77 axis watch without a gyro: F_ZLP's direction where its steady stretch began
F_AX_STILL_S = 78  # axis watch without a gyro: time F_ZLP has stayed still and within _HOLD_DEG of that, s
F_AX_MOVE_S = 79  # axis watch without a gyro: time since the pendulum filter's per-row stillness test last passed, s
F_TH_RAD = 80  # tilt filter: theta of the last row, rad (carried on by the change since: _kern_filters)
F_TH_UW = 81  # 81..82 tilt filter: "up" in the (u, w) plane at that row, whose angle F_TH_RAD is
F_TH_ROWS = 83  # tilt filter: rows since theta was last taken from atan2 itself
# 84..91 accelerometer-only post-gap window: F_ZLP (3), F_ZSTILL_S, F_G_EST, F_NLL, F_ID_NIS, F_ID_N before the gap
F_APG_SNAP = 84
F_ZANCHOR = 92  # 92..94 pendulum filter: F_ZLP's direction where its still stretch began (unit)
F_PG_T = 95  # post-gap window: time the sum covers, s
F_PG_TURNED = 96  # post-gap window: 1 once the sum has restarted at the thigh's first turn after the gap
F_ID_XMIN = 97  # pendulum filter: least angle before the range bound over every step, rad (with P_ID; flexion_sign)
F_PG_PREV_F = 98  # 98..100 post-gap window: the last summed row's specific force (g), current sensor frame
F_N = 101

# ---- int state ----------------------------------------------------------------
I_STARTED = 0
I_SAMPLE = 1  # processed-sample counter (including bridged samples)
I_PHASE = 2  # 0 seeking a rise, 1 rising / at peak, 2 descending after a confirmed peak
I_LOW_IDX = 3
I_PEAK_IDX = 4
I_TROUGH_IDX = 5
I_CAND_ACTIVE = 6
I_CAND_IDX = 7
I_CLIPPED = 8
I_PREV_CLIP = 9  # 1 if the previous row was counted as clipped (10, 11 spare)
I_GAPS = 12
I_CAP = 13  # history capacity (power of two)
I_DET = 14  # next processed sample the detector will read from the history
I_PG_GAP0 = 15  # post-gap window: first sample bridged across the gap
I_PG_END = 16  # post-gap window: first measured sample after the gap
I_RESTED = 17  # detector: 1 once the thigh rested during the unconfirmed rise in progress
I_RLOW_IDX = 18  # detector: sample of F_RLOW
I_AX_HOLD = 19  # axis watch: first sample the detector may not read yet (0: none; a hold follows a rest)
I_AX_NEW = 20  # axis watch: first held sample of a set whose new axes are not reported yet (0: none)
I_N = 21

PHASE_SEEK = 0
PHASE_RISE = 1
PHASE_FALL = 2

# ---- history ring columns ------------------------------------------------------
H_THETA = 0  # deg
H_VEL = 1  # deg/s
H_TIME = 2  # s, input time base
H_FLAG = 3  # 1 bridged across a gap (or the acc-only filter re-converging after one), 2 clipped, else 0
H_FLAG_BRIDGED = 1.0
H_FLAG_CLIPPED = 2.0
H_SIGMA = 4  # angle std, deg (0 with gyro)
H_N = 5  # columns of every history
# With a gyro, the rows also keep what the axis watch (_kern_axis) reads a
# held rise again from under new axes (the pendulum columns below take these
# places without one).
H_UP = 5  # 5..7 world "up" in the sensor frame
H_OMEGA = 8  # 8..10 bias-corrected rate, rad/s
H_N_GYRO = 11
# Accelerometer only, the rows also keep the pendulum filter's posterior, which
# the smoother reads when a rep closes (_kern_smooth), and what it wrote.
H_X = 5  # 5..7 filtered state: theta rad, rate rad/s, accel rad/s^2
H_P = 8  # 8..13 its covariance: p00, p01, p02, p11, p12, p22
H_DT = 14  # the prediction step that led to this row, s (NaN: re-anchored, no prediction)
H_STHETA = 15  # smoothed theta, deg
H_SVEL = 16  # smoothed rate, deg/s
H_JOLT = 17  # the row's innovation size (F_JOLT), g: a foot strike's jolt
H_ACC = 18  # 18..20 a held row's specific force as filtered, g (the axis watch re-runs the filter on it)
H_CLIP = 21  # that row's clip bits (x, y, z at full scale)
H_N_PENDULUM = 22

# ---- event rows ------------------------------------------------------------------
EV_KIND = 0
EV_REP = 1
EV_PEAK = 2
EV_REJECT = 3
EV_GAP = 4
EV_AXES = 5
EV_N = 14
# rep rows: kind, start, peak, end, peak_deg, rom, flex_time, peak_vel, mean_vel, hold, confidence, low_deg,
# strike_g (accelerometer only: the largest jolt from the peak on while the thigh is in the top half; NaN with a gyro)
E_START = 1
E_PEAK_T = 2
E_END = 3
E_PEAK_DEG = 4
E_ROM = 5
E_FLEX_T = 6
E_PEAK_VEL = 7
E_MEAN_VEL = 8
E_HOLD = 9
E_CONF = 10
E_LOW_DEG = 11
E_STRIKE_G = 12
# peak rows: kind, time, peak_deg, rom so far
EP_T = 1
EP_PEAK_DEG = 2
EP_ROM = 3
# reject rows: kind, time, reason, rom
EJ_T = 1
EJ_REASON = 2
EJ_ROM = 3
# gap rows: kind, the grid time the gap starts at, the measured time after it, bridged (1.0) or not
EG_T_HAT = 1
EG_T_IN = 2
EG_BRIDGED = 3
# axes rows (a set re-locked in another plane or pose, dsp/_kern_axis.py): kind, the time of its first held
# row, then the new u (rest "up"), w (working direction) and a (rep axis), sensor frame
EX_T = 1
EX_U = 2
EX_W = 5
EX_A = 8
REJ_ROM = 1.0
REJ_GAP = 2.0
REJ_TOO_LONG = 3.0
REJ_UNFINISHED = 4.0
REJ_RESTED = 5.0
# gap rows: kind, start, end, bridged

# ---- timeline state (float64; dsp/_kern_time.py) ---------------------------------
# The timeline re-times the input rows onto a regular grid before anything else
# reads them: grid index (lost rows counted), a line L = L0 + P * index, and a
# slowly moving phase added to it.  Offsets u = t_in - L are summarised per block
# of rows (minimum = the stamps' lower envelope, max - min = their spread).
T_P = 0  # sample period, s (bootstrapped, then re-estimated from the envelope slope)
T_LINE = 1  # the line's time at the last row, s
T_PHASE = 2  # phase added to the line, s
T_IDX = 3  # grid index of the last row (lost rows included)
T_ROWS = 4  # rows re-timed so far
T_CUR_N = 5  # rows in the current block
T_CUR_MIN = 6  # current block: smallest offset, s
T_CUR_MAX = 7  # current block: largest offset, s
T_CUR_MIN_IDX = 8  # current block: grid index of the row with the smallest offset
T_CUR_MIN_T = 9  # current block: input time of that row, s
T_E1 = 10  # last completed block: smallest offset, s
T_S1 = 11  # last completed block: spread (largest - smallest offset), s
T_E2 = 12  # the block before: smallest offset, s
T_S2 = 13  # the block before: spread, s
T_NBLK = 14  # completed blocks
T_LOST_S = 15  # time of the rows the timeline found lost, s
T_BLOCK = 16  # rows per block (from the bootstrap: several notifications of bursty stamps)
T_S3 = 17  # spreads of the two blocks before T_S2, s
T_S4 = 18
T_ENV_NOISE = 19  # mean change of the envelope from block to block (latency noise), s
T_LATE_S = 20  # of T_LOST_S, the time found only by a block's envelope (absorbed by the phase, no gap), s
T_PREV_U = 21  # offset of the previous row from the line, s
T_SPREAD = 22  # the spread a row may sit in above the envelope (from the blocks, see _spread), s
T_RING = 23  # 23.. ring of block envelope points (grid index, input time), T_RING_N pairs
T_RING_N = 32
T_N = T_RING + 2 * T_RING_N
