import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402


@pytest.fixture(scope="module")
def random_policy(tmp_path_factory):
    """A checkpoint of an untrained net: it drives badly, which is all the window and episode tests need."""
    import torch

    from agents.model import Architecture, NetConfig, SteeringNet, save_checkpoint
    from envs import RoadFollowConfig
    from envs.observations import observation_space

    torch.manual_seed(0)
    shape = observation_space(RoadFollowConfig()).shape
    path = tmp_path_factory.mktemp("policy") / "random.pt"
    save_checkpoint(path, SteeringNet(NetConfig("features", shape, Architecture(hidden=(16,)))))
    return path
