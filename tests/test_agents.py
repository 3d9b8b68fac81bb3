"""The expert, datasets, the steering network, the training loop and evaluation."""

import math
import os
import pickle

import numpy as np
import pytest
import torch

from agents.data import CollectConfig, Dataset, DatasetError, collect, collect_world
from agents.drivers import ExpertDriver, PolicyDriver
from agents.evaluation import aggregate, drive, evaluate
from agents.model import Architecture, CheckpointError, SteeringPolicy, load_checkpoint
from agents.training import TrainConfig, train
from agents.trajectory import Trajectory
from envs.generation import split_roads
from envs.road import Road

TINY = TrainConfig(epochs=3, batch_size=128, print_every=0, net=Architecture(hidden=(32, 32)))


@pytest.fixture(scope="module")
def small_data():
    train_data = collect(CollectConfig(num_roads=6, seed=3))
    test_data = collect(CollectConfig(num_roads=3, seed=4, env=collect_world(split="unseen")))
    return train_data, test_data


@pytest.mark.parametrize("split", ["train", "unseen"])
def test_expert_completes_every_road_of_the_default_families(split):
    roads = split_roads(split, 120, ("gentle", "twisty"))
    result = evaluate(ExpertDriver(), roads)
    agg = result["aggregate"]
    assert agg["episodes"] == 120
    assert agg["completion_rate"] == 1.0
    assert agg["off_road_rate"] == 0.0
    assert agg["mean_abs_cte"] < 0.1


def test_expert_completes_hairpin_roads():
    roads = split_roads("unseen", 20, ("hairpin",))
    assert evaluate(ExpertDriver(), roads)["aggregate"]["completion_rate"] == 1.0


def test_collected_steps_record_the_clean_expert_label_and_drift(small_data):
    data, _ = small_data
    assert data.obs.shape[1:] == (20,)
    assert len(data) == len(data.action) == len(data.road) == len(data.episode) == len(data.step)
    assert data.road_names[0] == "train/gentle/0" and data.road_names[1] == "train/twisty/1"
    # noise makes the car wander, so recovery states are in the data
    assert np.abs(data.cte).max() > 0.3
    # labels are clean expert actions, never the noisy executed ones: within the steering range
    assert np.all(np.abs(data.action) <= 1.0)
    # steps count up within each episode
    for ep in np.unique(data.episode)[:3]:
        steps = data.step[data.episode == ep]
        assert np.array_equal(steps, np.arange(len(steps)))


def test_collect_is_seeded(small_data):
    again = collect(CollectConfig(num_roads=6, seed=3))
    assert np.array_equal(again.obs, small_data[0].obs)
    assert np.array_equal(again.action, small_data[0].action)


def test_dataset_round_trip_and_errors(tmp_path, small_data):
    data, _ = small_data
    path = data.save(tmp_path / "d.npz")
    back = Dataset.load(path)
    assert np.array_equal(back.obs, data.obs) and back.metadata["roads"] == data.road_names
    assert back.metadata["observation"] == "features" and "package_version" in back.metadata
    with pytest.raises(DatasetError, match="holds 'features' observations"):
        Dataset.load(path, observation="image")
    with pytest.raises(DatasetError, match="no such dataset"):
        Dataset.load(tmp_path / "missing.npz")
    broken = tmp_path / "broken.npz"
    broken.write_bytes(path.read_bytes()[:500])
    with pytest.raises(DatasetError, match="broken.npz"):
        Dataset.load(broken)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    with pytest.raises(DatasetError, match="not a roadschool dataset"):
        Dataset.load(other)


def test_dataset_save_is_atomic(tmp_path, small_data, monkeypatch):
    data, _ = small_data

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError):
        data.save(tmp_path / "d.npz")
    assert list(tmp_path.iterdir()) == []


def test_training_lowers_both_losses(small_data):
    train_data, test_data = small_data
    _, history = train(
        train_data, test_data, TrainConfig(epochs=8, batch_size=256, print_every=0, net=Architecture(hidden=(64, 64)))
    )
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert history.test_loss[-1] < 0.5 * history.test_loss[0]


def test_training_prints_epoch_lines(small_data):
    lines = []
    train(
        small_data[0],
        small_data[1],
        TrainConfig(epochs=4, print_every=2, net=Architecture(hidden=(16,))),
        log=lines.append,
    )
    assert len(lines) == 2
    assert lines[0].startswith("Epoch: 2 | Train Loss: ") and " | Test Loss: " in lines[0]


def test_full_batch_training_works(small_data):
    _, history = train(
        small_data[0], None, TrainConfig(epochs=3, batch_size=0, print_every=0, net=Architecture(hidden=(16,)))
    )
    assert len(history.train_loss) == 3 and np.isnan(history.test_loss).all()
    assert history.train_loss[-1] < history.train_loss[0]


def test_same_seed_gives_identical_weights(small_data):
    a, _ = train(small_data[0], None, TINY)
    b, _ = train(small_data[0], None, TINY)
    c, _ = train(small_data[0], None, TrainConfig(**{**TINY.__dict__, "seed": 1}))
    sa, sb, sc = a.net.state_dict(), b.net.state_dict(), c.net.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_save_load_gives_identical_predictions(tmp_path, small_data):
    policy, _ = train(small_data[0], small_data[1], TINY, checkpoint=tmp_path / "m.pt")
    loaded = SteeringPolicy.load(tmp_path / "m.pt")
    obs = small_data[1].obs[:500]
    assert np.array_equal(policy.act(obs), loaded.act(obs))
    assert loaded.act(obs[0]).shape == (1,)
    assert loaded.act(obs).shape == (500, 1)
    meta = load_checkpoint(tmp_path / "m.pt")
    assert meta["epoch"] == 3 and len(meta["history"]["train_loss"]) == 3
    assert "optimizer_state" in meta and meta["observation"] == "features"


def test_resumed_training_matches_an_uninterrupted_run(tmp_path, small_data):
    cfg = TrainConfig(epochs=4, print_every=1, checkpoint_every=2, net=Architecture(hidden=(16,)))
    full, _ = train(small_data[0], None, cfg, log=lambda line: None)

    def crash_in_epoch_3(line):
        if line.startswith("Epoch: 3 "):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(small_data[0], None, cfg, checkpoint=tmp_path / "a.pt", log=crash_in_epoch_3)
    assert load_checkpoint(tmp_path / "a.pt")["epoch"] == 2
    resumed, history = train(small_data[0], None, cfg, resume=tmp_path / "a.pt", log=lambda line: None)
    assert history.epoch == [1, 2, 3, 4]
    sf, sr = full.net.state_dict(), resumed.net.state_dict()
    assert all(torch.equal(sf[k], sr[k]) for k in sf)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch /tmp/roadschool_pwned_marker",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_malicious_checkpoint_is_refused_not_executed(tmp_path):
    marker = "/tmp/roadschool_pwned_marker"
    if os.path.exists(marker):
        os.unlink(marker)
    path = tmp_path / "evil.pt"
    torch.save({"format": "roadschool-checkpoint", "payload": _Exploit()}, path)
    with pytest.raises(CheckpointError, match="refused"):
        SteeringPolicy.load(path)
    assert not os.path.exists(marker)
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps(_Exploit()))
    with pytest.raises(CheckpointError):
        SteeringPolicy.load(plain)
    assert not os.path.exists(marker)


def test_damaged_and_foreign_checkpoints_give_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        SteeringPolicy.load(tmp_path / "nope.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="junk.pt"):
        SteeringPolicy.load(junk)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(CheckpointError, match="not a roadschool checkpoint"):
        SteeringPolicy.load(foreign)


def test_metrics_on_a_hand_made_trajectory():
    cte = np.array([0.0, 0.1, -0.3, 0.2])
    traj = Trajectory.from_columns(
        Road.from_points([[0, 0], [10, 0]], 7.0, name="r"),
        dt=0.05,
        outcome="finished",
        xy=np.zeros((4, 2)),
        heading=np.zeros(4),
        cte=cte,
        speed=np.array([10.0, 9.0, 11.0, 10.0]),
        steer=np.zeros(4),
        progress_m=np.arange(4.0),
    )
    m = traj.metrics()
    # the reset state (index 0) is not a driven step
    assert m["mean_abs_cte"] == pytest.approx(0.2)
    assert m["max_abs_cte"] == pytest.approx(0.3)
    assert m["mean_speed"] == pytest.approx(10.0)
    assert m["completion_rate"] == 1.0 and m["off_road_rate"] == 0.0 and m["episodes"] == 1
    other = dict(m, completion_rate=0.0, off_road_rate=1.0, mean_abs_cte=0.4, max_abs_cte=2.0)
    agg = aggregate([m, other])
    assert agg["completion_rate"] == 0.5 and agg["off_road_rate"] == 0.5
    assert agg["mean_abs_cte"] == pytest.approx(0.3) and agg["max_abs_cte"] == 2.0 and agg["episodes"] == 2


def test_drive_records_the_real_trajectory():
    road = split_roads("unseen", 1, ("twisty",))[0]
    (traj,) = drive(ExpertDriver(), [road])
    assert traj.finished and not traj.off_road
    # positions are where the car was: each lies |cte| from the centreline
    cte, _, _ = road.project(traj.xy[50], s_guess=traj.progress_m[50])
    assert cte == pytest.approx(traj.cte[50], abs=1e-9)
    assert traj.progress_m[-1] == pytest.approx(road.length, abs=0.6)


def test_learner_drives_in_inference_mode(small_data):
    policy, _ = train(small_data[0], None, TINY)
    road = split_roads("unseen", 2, ("gentle",))
    seen = []  # every forward pass: (inference mode on, output is an inference tensor, eval mode)
    policy.net.register_forward_hook(
        lambda net, inputs, out: seen.append((torch.is_inference_mode_enabled(), out.is_inference(), not net.training))
    )
    trajs = drive(PolicyDriver(policy), road)
    assert len(trajs) == 2
    assert seen and all(all(flags) for flags in seen), seen[:3]


# ------------------------------------------------------------------ speed planning
def test_speed_profile_against_hand_calculations():
    from agents.expert import speed_profile
    from envs.car import GRAVITY

    ahead = np.linspace(0.0, 200.0, 201)[None, :]
    kappa = np.where(ahead >= 150.0, 1 / 30.0, 0.0)  # a 30 m bend from 150 m on
    mu = np.full_like(ahead, 0.7)
    v = speed_profile(ahead, kappa, mu, np.array([12.0]), 25.0, 4.0, 0.6, 0.4)[0]
    in_bend = math.sqrt(0.6 * 0.7 * GRAVITY * 30.0)  # the bend allows sqrt(lateral_grip mu g R)
    assert v[-1] == pytest.approx(in_bend)
    brake = 0.4 * 0.7 * GRAVITY  # backward pass: v^2 = v_bend^2 + 2 a d before it
    assert v[100] == pytest.approx(min(math.sqrt(in_bend**2 + 2 * brake * 50.0), math.sqrt(144 + 2 * brake * 100)))
    assert v[0] == pytest.approx(12.0)  # forward pass: from the speed the car has ...
    assert v[10] == pytest.approx(math.sqrt(144 + 2 * brake * 10.0))  # ... speeding up as the grip allows
    assert np.all(v <= 25.0 + 1e-12)


def test_expert_slows_down_for_ice_and_drives_icy_roads_a_cruising_car_leaves():
    import envs
    from agents.evaluation import env_config_for

    roads = [envs.generate_road("unseen", "icy", i) for i in range(12)]
    planned = env_config_for(
        "features", envs.RoadFollowConfig(car=envs.CarParams(model="dynamic"), throttle=True, target_speed=15.0)
    )
    cruising = env_config_for("features", envs.RoadFollowConfig(car=envs.CarParams(model="dynamic"), target_speed=10.0))
    trajectories = drive(ExpertDriver(), roads, planned)
    assert all(t.finished for t in trajectories)
    on_ice, on_dry = [], []
    for road, t in zip(roads, trajectories):
        mu = road.friction[np.minimum((t.progress_m / road.spacing).astype(int), road.num_points - 1)]
        on_ice += t.speed[mu == 0.1].tolist()
        on_dry += t.speed[mu == 1.0].tolist()
    assert on_ice and np.mean(on_ice) < 0.7 * np.mean(on_dry)
    assert aggregate([t.metrics() for t in trajectories])["lap_time"] > 0
    assert sum(t.off_road for t in drive(ExpertDriver(), roads, cruising)) >= 3  # 10 m/s on ice: off the road


def test_a_throttle_dataset_keeps_both_actions_through_its_file(tmp_path):
    import envs

    world = envs.RoadFollowConfig(
        car=envs.CarParams(model="dynamic"), throttle=True, target_speed=12.0, road_preview_distances=(0.0, 40.0)
    )
    data = collect(CollectConfig(num_roads=2, env=collect_world(world, families=("icy",)), max_steps=200))
    assert data.action.shape[1] == 2 and np.abs(data.action[:, 1]).max() > 0  # the expert used the throttle
    data.save(tmp_path / "d.npz")
    again = Dataset.load(tmp_path / "d.npz")
    assert np.array_equal(again.action, data.action)
    policy, _ = train(again, None, TrainConfig(epochs=1, print_every=0))
    assert policy.act(again.obs[:3]).shape == (3, 2)
    kinematic = collect(CollectConfig(num_roads=1, max_steps=50))
    kinematic.action = np.column_stack([kinematic.action, kinematic.action])  # two columns, no throttle env
    kinematic.save(tmp_path / "k.npz")
    with pytest.raises(DatasetError, match="one column of steering"):
        Dataset.load(tmp_path / "k.npz")
