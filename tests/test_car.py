"""Tests of envs/car.py: the kinematic bicycle against hand calculations."""

import math

import numpy as np
import pytest

from envs import car
from envs.car import HEADING, SPEED, STATE_SIZE, STEER, CarParams, X, Y
from envs.road import SURFACES

PARAMS = CarParams()


def one_car(x=0.0, y=0.0, heading=0.0, speed=0.0, steer=0.0, lateral=0.0, yaw_rate=0.0) -> np.ndarray:
    """A ``[1, 7]`` state."""
    return np.array([[x, y, heading, speed, steer, lateral, yaw_rate]], dtype=np.float64)


def drive(state, steps, steer_command=0.0, accel=0.0, params=PARAMS, dt=0.05, **kwargs):
    """``steps`` steps with constant commands; returns the ``[steps + 1, N, 7]`` states visited."""
    n = len(state)
    command = np.full(n, steer_command, dtype=np.float64)
    a = np.full(n, accel, dtype=np.float64)
    states = [state]
    for _ in range(steps):
        state = car.step(state, command, a, params, dt, **kwargs)
        states.append(state)
    return np.stack(states)


# ----------------------------------------------------------------- straight
def test_straight_drive_10_m_per_s_for_2_s_is_20_m():
    states = drive(one_car(speed=10.0), steps=40, dt=0.05)  # 40 x 0.05 s = 2 s
    end = states[-1, 0]
    assert end[X] == pytest.approx(20.0, abs=1e-9)
    assert end[Y] == pytest.approx(0.0, abs=1e-12)
    assert end[HEADING] == 0.0
    assert end[SPEED] == 10.0


def test_straight_drive_along_any_heading():
    heading = math.radians(120.0)
    end = drive(one_car(x=3.0, y=-4.0, heading=heading, speed=10.0), steps=40)[-1, 0]
    assert end[X] == pytest.approx(3.0 + 20.0 * math.cos(heading), abs=1e-9)
    assert end[Y] == pytest.approx(-4.0 + 20.0 * math.sin(heading), abs=1e-9)


def test_one_long_step_is_the_same_distance():
    end = drive(one_car(speed=10.0), steps=1, dt=2.0)[-1, 0]
    assert end[X] == pytest.approx(20.0, abs=1e-12)


def test_acceleration_is_semi_implicit_euler():
    """Speed updates first, then the car moves at the new speed: after n steps of
    accel a, distance = a dt^2 n (n + 1) / 2 (from rest: 2 m/s^2 for 2 s -> 4.1 m)."""
    n, dt, a = 40, 0.05, 2.0
    end = drive(one_car(), steps=n, accel=a, dt=dt)[-1, 0]
    assert end[SPEED] == pytest.approx(a * n * dt, abs=1e-12)
    assert end[X] == pytest.approx(a * dt**2 * n * (n + 1) / 2, abs=1e-9)


# ------------------------------------------------------------------- circle
@pytest.mark.parametrize("delta", [0.05, 0.3, -0.3, PARAMS.max_steer, -PARAMS.max_steer])
@pytest.mark.parametrize("heading", [0.0, 2.0])
def test_constant_steer_drives_a_circle_of_radius_wheelbase_over_tan_delta(delta, heading):
    speed = 10.0
    radius = PARAMS.wheelbase / math.tan(delta)  # signed: negative = turning right
    start = one_car(x=5.0, y=-2.0, heading=heading, speed=speed, steer=delta)
    # the centre is |radius| to the left of the heading for a left turn, to the right for a right turn
    centre = np.array([5.0 - radius * math.sin(heading), -2.0 + radius * math.cos(heading)])
    states = drive(start, steps=2000, steer_command=delta / PARAMS.max_steer)  # 200 m, several laps for big delta
    xy = states[:, 0, :2]
    np.testing.assert_allclose(np.hypot(*(xy - centre).T), abs(radius), rtol=0, atol=1e-6)
    assert np.all(states[:, 0, STEER] == delta)
    assert np.all(states[:, 0, SPEED] == speed)
    # heading turns by distance / radius, wrapped to [-pi, pi)
    turned = heading + np.arange(len(states)) * speed * 0.05 / radius
    np.testing.assert_allclose(np.cos(states[:, 0, HEADING] - turned), 1.0, atol=1e-12)
    assert np.all((-math.pi <= states[:, 0, HEADING]) & (states[:, 0, HEADING] < math.pi))


def test_min_turn_radius_matches_full_lock():
    assert PARAMS.min_turn_radius == pytest.approx(PARAMS.wheelbase / math.tan(PARAMS.max_steer))


# ----------------------------------------------------------------- steering
def test_steering_rate_limit():
    dt = 0.05
    per_step = PARAMS.max_steer_rate * dt
    states = drive(one_car(speed=5.0), steps=20, steer_command=1.0, dt=dt)
    steer = states[:, 0, STEER]
    expected = np.minimum(np.arange(len(steer)) * per_step, PARAMS.max_steer)
    np.testing.assert_allclose(steer, expected, atol=1e-12)
    assert np.all(np.abs(np.diff(steer)) <= per_step + 1e-12)
    # and back the other way, through zero to full right lock
    back = drive(states[-1], steps=30, steer_command=-1.0, dt=dt)[:, 0, STEER]
    assert np.all(np.abs(np.diff(back)) <= per_step + 1e-12)
    assert back[-1] == pytest.approx(-PARAMS.max_steer)


def test_steering_beyond_the_limit_is_held_at_max_steer():
    states = drive(one_car(speed=5.0, steer=PARAMS.max_steer), steps=5, steer_command=3.0)
    assert np.all(states[:, 0, STEER] == PARAMS.max_steer)


def test_steering_bias_is_added_after_the_actuator():
    bias = 0.1
    biased = drive(one_car(speed=10.0), steps=200, steering_bias=bias)[:, 0]
    assert np.all(biased[:, STEER] == 0.0)  # the wheel angle the actuator reports is unbiased
    radius = PARAMS.wheelbase / math.tan(bias)
    np.testing.assert_allclose(np.hypot(biased[:, X], biased[:, Y] - radius), radius, atol=1e-6)


def test_push_drifts_the_car_sideways():
    state = one_car(speed=10.0)
    push = np.array([[0.0, 0.5]])
    end = drive(state, steps=40, push=push)[-1, 0]  # 2 s of 0.5 m/s sideways drift
    assert end[X] == pytest.approx(20.0, abs=1e-9)
    assert end[Y] == pytest.approx(1.0, abs=1e-9)
    assert end[HEADING] == 0.0


# -------------------------------------------------------------------- speed
def test_speed_is_clipped_to_max_speed():
    states = drive(one_car(speed=PARAMS.max_speed - 0.05), steps=10, accel=PARAMS.max_accel)
    assert np.all(states[1:, 0, SPEED] == PARAMS.max_speed)


def test_speed_never_goes_negative():
    states = drive(one_car(speed=0.3), steps=10, accel=-PARAMS.max_accel)
    assert np.all(states[:, 0, SPEED] >= 0.0)
    assert states[-1, 0, SPEED] == 0.0
    assert states[-1, 0, X] == states[-2, 0, X]  # stopped


def test_accel_is_clipped_to_max_accel():
    fast = drive(one_car(speed=10.0), steps=1, accel=100.0, dt=0.1)[-1, 0]
    slow = drive(one_car(speed=10.0), steps=1, accel=-100.0, dt=0.1)[-1, 0]
    assert fast[SPEED] == pytest.approx(10.0 + PARAMS.max_accel * 0.1)
    assert slow[SPEED] == pytest.approx(10.0 - PARAMS.max_accel * 0.1)


def test_cruise_controller_holds_target_speed():
    params = PARAMS.record()[0]
    accel = [car.cruise_accel(speed, 10.0, params) for speed in (0.0, 9.5, 10.0, 25.0)]
    np.testing.assert_allclose(accel, [PARAMS.max_accel, 1.0, 0.0, -PARAMS.max_accel])
    state = one_car(speed=0.0)
    for _ in range(400):
        accel = np.array([car.cruise_accel(state[0, SPEED], 10.0, params)])
        state = car.step(state, np.zeros(1), accel, PARAMS, 0.05)
    assert state[0, SPEED] == pytest.approx(10.0, abs=1e-6)


# -------------------------------------------------------------------- batch
def test_batch_of_n_cars_equals_n_single_car_calls_exactly():
    rng = np.random.default_rng(0)
    n = 257
    state = np.column_stack(
        [
            rng.uniform(-100, 100, n),
            rng.uniform(-100, 100, n),
            rng.uniform(-math.pi, math.pi, n),
            rng.uniform(0, PARAMS.max_speed, n),
            rng.uniform(-PARAMS.max_steer, PARAMS.max_steer, n),
            np.zeros(n),
            np.zeros(n),
        ]
    )
    assert state.shape == (n, STATE_SIZE)
    for _ in range(20):
        command = rng.uniform(-1.5, 1.5, n)
        accel = rng.uniform(-6, 6, n)
        bias = rng.normal(0, 0.02, n)
        push = rng.normal(0, 1.0, (n, 2))
        batch = car.step(state, command, accel, PARAMS, 0.05, bias, push)
        rows = [slice(i, i + 1) for i in range(n)]
        single = np.concatenate(
            [car.step(state[r], command[r], accel[r], PARAMS, 0.05, bias[r], push[r]) for r in rows]
        )
        assert np.array_equal(batch, single)
        state = batch


def test_step_does_not_modify_its_input():
    state = one_car(speed=10.0, steer=0.1)
    before = state.copy()
    car.step(state, np.ones(1), np.ones(1), PARAMS, 0.05)
    assert np.array_equal(state, before)


def test_wrap_angle():
    angles = np.array([0.0, math.pi, -math.pi, 3 * math.pi / 2, -3 * math.pi / 2, 7.0])
    wrapped = np.array([car.wrap_angle(a) for a in angles])
    assert np.all((wrapped >= -math.pi) & (wrapped < math.pi))
    np.testing.assert_allclose(np.cos(wrapped), np.cos(angles), atol=1e-12)
    np.testing.assert_allclose(np.sin(wrapped), np.sin(angles), atol=1e-12)


@pytest.mark.parametrize("field", ["wheelbase", "max_steer", "max_steer_rate", "max_accel", "max_speed"])
@pytest.mark.parametrize("value", [0.0, -1.0, float("nan"), float("inf")])
def test_car_params_reject_non_positive_or_non_finite(field, value):
    with pytest.raises(ValueError, match=field):
        CarParams(**{field: value})


# ------------------------------------------------------------------ dynamic single-track model
DYNAMIC = CarParams(model="dynamic")
G = car.GRAVITY


def drive_dynamic(state, seconds, steer_command, accel_of, friction=1.0, params=DYNAMIC, dt=0.05):
    """Drive one dynamic car with ``accel_of(state)`` [m/s^2]; returns the states visited."""
    states = [state]
    for _ in range(int(round(seconds / dt))):
        state = car.step(state, np.array([steer_command]), np.array([accel_of(state)]), params, dt, friction=friction)
        states.append(state)
    return np.concatenate(states)


def hold_speed(target):
    return lambda state: 2.0 * (target - state[0, SPEED])


def test_dynamic_car_at_walking_speed_is_the_kinematic_car():
    kinematic = one_car(speed=1.5, steer=0.2)
    dynamic = kinematic.copy()
    for k in range(40):
        command, accel = math.sin(0.3 * k), 0.3 * math.cos(0.2 * k)
        kinematic = car.step(kinematic, np.array([command]), np.array([accel]), PARAMS, 0.05)
        dynamic = car.step(dynamic, np.array([command]), np.array([accel]), DYNAMIC, 0.05)
        assert dynamic[0, SPEED] < DYNAMIC.kinematic_below
        np.testing.assert_array_equal(dynamic[:, :5], kinematic[:, :5])
        # its lateral speed and yaw rate are the slip-free car's: the rear axle moves along the heading
        yaw_rate = dynamic[0, SPEED] * math.tan(dynamic[0, STEER]) / DYNAMIC.wheelbase
        assert dynamic[0, car.YAW_RATE] == pytest.approx(yaw_rate)
        assert dynamic[0, car.LATERAL] == pytest.approx((DYNAMIC.wheelbase - DYNAMIC.cg_to_front) * yaw_rate)


@pytest.mark.parametrize("speed", [8.0, 15.0, 22.0])
@pytest.mark.parametrize("cornering_rear", [20.89, 28.0, 17.0])
def test_steady_cornering_matches_the_linear_single_track_yaw_rate(speed, cornering_rear):
    """r = v d / (L + K v^2), with the understeer gradient K = m / L (l_r / C_f - l_f / C_r) and
    the axles' cornering stiffnesses C = mu C_S Fz [N/rad] (small steering: linear tyres).
    With CommonRoad's load-normalized coefficients equal front and rear (20.89) the car is
    neutral (K = 0: the kinematic yaw rate); stiffer rear tyres make it understeer, softer ones
    oversteer (below its critical speed sqrt(L / -K), which is above 22 m/s here)."""
    p = CarParams(model="dynamic", cornering_rear=cornering_rear)
    lf, lr, wheel = p.cg_to_front, p.wheelbase - p.cg_to_front, 0.01
    c_front = p.cornering_front * p.mass * G * lr / p.wheelbase
    c_rear = p.cornering_rear * p.mass * G * lf / p.wheelbase
    understeer = p.mass / p.wheelbase * (lr / c_front - lf / c_rear)  # [rad s^2 / m]
    expected = speed * wheel / (p.wheelbase + understeer * speed**2)
    states = drive_dynamic(one_car(speed=speed, steer=wheel), 12.0, wheel / p.max_steer, hold_speed(speed), params=p)
    assert states[-1, SPEED] == pytest.approx(speed, rel=1e-3)
    assert states[-1, car.YAW_RATE] == pytest.approx(expected, rel=0.01)
    kinematic = speed * math.tan(wheel) / p.wheelbase
    if cornering_rear == p.cornering_front:
        assert understeer == pytest.approx(0.0, abs=1e-12)
    else:  # an understeering car turns less than the kinematic one, an oversteering one more
        assert (kinematic > states[-1, car.YAW_RATE]) == (understeer > 0)


@pytest.mark.parametrize("friction", [1.0, 0.7, 0.3, 0.1])
def test_lateral_acceleration_never_exceeds_the_friction_limit(friction):
    rng = np.random.default_rng(1)
    for start in (6.0, 15.0, 28.0):
        state = one_car(speed=start)
        for _ in range(200):
            command, accel = rng.uniform(-1, 1), rng.uniform(-6, 6)
            nxt = car.single_track_step(
                *state[0, [X, Y, HEADING, SPEED, car.LATERAL, car.YAW_RATE, STEER]],
                command,
                accel,
                DYNAMIC.record()[0],
                0.05,
                0.0,
                0.0,
                0.0,
                friction,
            )
            assert abs(nxt[9]) <= friction * G * (1 + 1e-9)
            state = np.array([[nxt[0], nxt[1], nxt[2], nxt[3], nxt[6], nxt[4], nxt[5]]])
            assert np.all(np.isfinite(state))


def bend(speed, friction, radius=30.0):
    """A car entering a left bend of ``radius`` [m] at ``speed`` [m/s]: it steers for the circle
    (the wheel angle of the kinematic car plus feedback on the radius it is off) and brakes as
    hard as the road lets it down to the speed dry asphalt could hold there. Returns how far out
    [m] of the circle it ends after a quarter of it (or when it has slid 10 m out)."""
    state = one_car(x=0.0, y=-radius, speed=speed)  # on the circle about (0, 0), heading +x
    hold = 0.9 * math.sqrt(G * radius)
    for _ in range(400):
        x, y = state[0, X], state[0, Y]
        off = math.hypot(x, y) - radius
        wheel = math.atan(DYNAMIC.wheelbase / radius) + 0.1 * off
        accel = -DYNAMIC.max_accel if state[0, SPEED] > hold else 0.0
        state = car.step(
            state, np.array([wheel / DYNAMIC.max_steer]), np.array([accel]), DYNAMIC, 0.05, friction=friction
        )
        if math.atan2(y, x) > 0.0 or abs(off) > 10.0:
            break
    return math.hypot(state[0, X], state[0, Y]) - radius


def test_a_30_m_bend_entered_at_20_m_s_is_taken_on_dry_asphalt_and_not_on_ice():
    """20 m/s round 30 m needs 13.3 m/s^2, more than any road gives: the car must brake into it.
    On dry asphalt (mu = 1) braking and turning together keep it within 2 m of the circle; on
    ice (mu = 0.1) its tyres slide and it leaves a 7 m road."""
    assert abs(bend(20.0, 1.0)) < 2.0
    assert bend(20.0, SURFACES["ice"]) > 3.5


@pytest.mark.parametrize("speed", [5.0, 12.0, 20.0, 30.0])
@pytest.mark.parametrize("friction", [1.0, 0.1])
def test_energy_does_not_grow_with_the_steering_held(speed, friction):
    """No throttle, wheels held: the tyres can only take energy away (no numerical instability),
    down to walking speed, where the kinematic model's no-slip constraint takes over."""
    p = DYNAMIC
    lr = p.wheelbase - p.cg_to_front
    states = drive_dynamic(one_car(speed=speed), 20.0, 0.5, lambda state: 0.0, friction=friction)
    vx, vy, r = states[:, SPEED], states[:, car.LATERAL], states[:, car.YAW_RATE]
    energy = 0.5 * p.mass * (vx**2 + vy**2) + 0.5 * p.yaw_inertia * r**2
    assert np.all(np.isfinite(states))
    dynamic = vx[:-1] >= p.kinematic_below
    assert dynamic.sum() > 10
    assert np.all(np.diff(energy)[dynamic] <= 1e-6 * energy[0])
    assert abs(states[-1, car.LATERAL] - lr * states[-1, car.YAW_RATE]) < 5.0  # no runaway sideways speed
