"""Learning from the dashcam: the PilotNet-style CNN, side cameras, augmentations, saliency, and the
camera demo end to end."""

import numpy as np
import pytest
import torch

from agents.data import CollectConfig, collect, collect_world
from agents.model import Architecture, NetConfig, SteeringPolicy
from agents.saliency import occlusion_saliency
from agents.training import TrainConfig, augment, train
from sims.cli import main

SMALL = TrainConfig(
    epochs=2,
    batch_size=64,
    learning_rate=2e-3,
    print_every=0,
    net=Architecture(hidden=(16,), channels=(8, 12, 16), channels_3x3=(16,)),
)


@pytest.fixture(scope="module")
def camera_data():
    cfg = CollectConfig(
        num_roads=3, env=collect_world(observation="camera"), frame_stride=4, side_cameras=0.5, max_steps=240
    )
    return collect(cfg)


@pytest.fixture(scope="module")
def camera_policy(camera_data, tmp_path_factory):
    path = tmp_path_factory.mktemp("camera") / "model.pt"
    policy, _ = train(camera_data, None, SMALL, checkpoint=path)
    return policy, path


def test_camera_data_stays_uint8_every_kth_step_with_side_cameras_labelled_towards_the_centre(camera_data):
    data = camera_data
    assert data.obs.dtype == np.uint8 and data.obs.shape[1:] == (32, 64, 3)
    assert (data.step % 4 == 0).all()
    assert data.metadata["side_cameras"] == 0.5 and data.metadata["frame_stride"] == 4
    # each recorded step: the car's camera, then the left and the right one, at cte + 0.5 and cte - 0.5
    centre, left, right = (data.cte == data.cte), np.zeros(len(data), bool), np.zeros(len(data), bool)
    key = data.episode.astype(np.int64) * 100_000 + data.step
    order = np.lexsort((data.cte, key))
    triples = order.reshape(-1, 3)  # per (episode, step): right (lowest cte), centre, left
    assert np.array_equal(key[triples[:, 0]], key[triples[:, 2]])
    right_cte, centre_cte, left_cte = (data.cte[triples[:, k]] for k in range(3))
    assert np.allclose(left_cte - centre_cte, 0.5, atol=1e-5) and np.allclose(centre_cte - right_cte, 0.5, atol=1e-5)
    steer = data.action[:, 0]
    # a camera further left sees the car as further left: its label steers more to the right
    assert (steer[triples[:, 2]] < steer[triples[:, 1]]).all() and (steer[triples[:, 1]] < steer[triples[:, 0]]).all()
    assert not np.array_equal(data.obs[triples[:, 0]], data.obs[triples[:, 2]])
    del centre, left, right


def test_side_cameras_need_camera_observations():
    with pytest.raises(ValueError, match="camera"):
        CollectConfig(env=collect_world(observation="features"), side_cameras=0.5)


def test_augmentations_are_seeded_and_a_flip_mirrors_the_frame_and_negates_the_steering():
    frames = torch.randint(0, 256, (64, 32, 64, 3), dtype=torch.uint8)
    labels = torch.linspace(-1, 1, 64).reshape(-1, 1)
    flip_only = TrainConfig(augment_flip=True)
    x, y = augment(frames, labels, flip_only, torch.Generator().manual_seed(1))
    flipped = (y[:, 0] != labels[:, 0]).numpy()
    assert 10 < flipped.sum() < 54
    assert torch.equal(y[flipped], -labels[flipped])
    assert torch.equal(x[flipped], frames[flipped].flip(2).float())
    assert torch.equal(x[~flipped], frames[~flipped].float())
    both = TrainConfig(augment_flip=True, augment_brightness=0.3)
    a = augment(frames, labels, both, torch.Generator().manual_seed(2))
    b = augment(frames, labels, both, torch.Generator().manual_seed(2))
    c = augment(frames, labels, both, torch.Generator().manual_seed(3))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.equal(a[0], c[0])
    ratio = a[0].mean(dim=(1, 2, 3)) / frames.float().mean(dim=(1, 2, 3))
    assert (ratio > 0.69).all() and (ratio < 1.31).all() and ratio.std() > 0.05


def test_pilotnet_architecture_lives_in_the_net_config_and_the_checkpoint(camera_policy):
    policy, path = camera_policy
    net = policy.net
    convs = [m for m in net.body if isinstance(m, torch.nn.Conv2d)]
    assert [(c.kernel_size, c.stride, c.out_channels) for c in convs] == [
        ((5, 5), (2, 2), 8),
        ((5, 5), (2, 2), 12),
        ((5, 5), (2, 2), 16),
        ((3, 3), (1, 1), 16),
    ]
    loaded = SteeringPolicy.load(path, observation="camera")
    assert loaded.net.config == net.config == NetConfig("camera", (32, 64, 3), Architecture((16,), (8, 12, 16), (16,)))
    frames = np.random.default_rng(0).integers(0, 256, (5, 32, 64, 3), dtype=np.uint8)
    assert np.array_equal(loaded.act(frames), policy.act(frames))
    assert loaded.net.obs_mean[0, 0].tolist() == net.obs_mean[0, 0].tolist()  # per-channel normalization


def test_occluding_the_most_salient_square_moves_the_steering_more_than_the_least_salient(camera_policy, camera_data):
    policy, _ = camera_policy
    frames = camera_data.obs[::40][:6]
    saliency = occlusion_saliency(policy, frames, patch=8, stride=4)
    assert saliency.shape == frames.shape[:3]
    patch = 8
    most_moves, least_moves = [], []
    for frame, heat in zip(frames, saliency):
        # the squares of the map's most and least salient 8x8 block, covered with black this time
        blocks = heat.reshape(4, 8, 8, 8).mean(axis=(1, 3))
        hot, cold = np.unravel_index(blocks.argmax(), blocks.shape), np.unravel_index(blocks.argmin(), blocks.shape)
        base = policy.act(frame)[0]
        for (r, c), moves in ((hot, most_moves), (cold, least_moves)):
            covered = frame.copy()
            covered[r * patch : (r + 1) * patch, c * patch : (c + 1) * patch] = 0
            moves.append(abs(policy.act(covered)[0] - base))
    assert np.mean(most_moves) > 2 * np.mean(least_moves)


def test_explain_writes_saliency_png_and_gif(camera_policy, tmp_path):
    _, path = camera_policy
    out = tmp_path / "explain"
    assert main(["explain", "--policy", str(path), "--frames", "3", "--every", "10", "--out", str(out)]) == 0
    assert (out / "saliency.png").stat().st_size > 1000 and (out / "saliency.gif").stat().st_size > 1000
    assert main(["explain", "--policy", str(tmp_path / "missing.pt"), "--out", str(out)]) == 2


@pytest.mark.slow
def test_camera_demo_quick_writes_every_output_with_dashcam_frames(tmp_path):
    import json

    from PIL import Image

    out = tmp_path / "run"
    assert main(["demo", "--quick", "--observation", "camera", "--out", str(out), "--no-progress"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["seconds"]) == {"collect", "train", "evaluate", "pictures", "total"}
    assert metrics["config"]["collect"]["env"]["observation"] == "camera"
    gif = Image.open(out / "drive.gif")
    assert gif.size[0] > gif.size[1]  # the dashcam beside the top view
    assert SteeringPolicy.load(out / "model.pt").observation == "camera"
