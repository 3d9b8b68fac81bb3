"""Stable-Baselines3 on the native vector env, and ``roadschool experiment rl-vs-imitation --quick``."""

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("stable_baselines3")
from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.env_checker import check_env  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv  # noqa: E402

import envs  # noqa: E402
from agents.sb3 import FleetVecEnv, SB3Driver  # noqa: E402
from envs import OBSERVATION_TYPES, RoadFollowConfig  # noqa: E402
from sims.cli import main  # noqa: E402


@pytest.mark.parametrize("observation", OBSERVATION_TYPES)
def test_sb3_check_env_passes_on_every_observation_type(observation):
    check_env(gym.make(envs.ENV_ID, observation=observation), warn=True)


def test_adapter_equals_dummy_vec_env_of_single_envs_step_for_step():
    """Same seeds, same actions: the same observations, rewards, dones and terminal observations,
    episode ends and same-step resets included."""
    n, config = 4, RoadFollowConfig(start_lateral_offset=1.0, start_heading_offset=0.15)
    fleet = FleetVecEnv(n, config, max_episode_steps=60, seed=7)
    dummy = DummyVecEnv([lambda: gym.make(envs.ENV_ID, max_episode_steps=60, config=config) for _ in range(n)])
    dummy.seed(7)
    assert np.array_equal(fleet.reset(), dummy.reset())
    rng = np.random.default_rng(0)
    ends = 0
    for _ in range(150):
        actions = rng.uniform(-1, 1, (n, 1)).astype(np.float32)
        obs_a, rew_a, done_a, info_a = fleet.step(actions)
        obs_b, rew_b, done_b, info_b = dummy.step(actions)
        assert np.array_equal(done_a, done_b)
        assert np.allclose(rew_a, rew_b, atol=1e-6)
        assert np.allclose(obs_a, obs_b, atol=1e-6)
        for i in np.flatnonzero(done_a):
            ends += 1
            assert np.allclose(info_a[i]["terminal_observation"], info_b[i]["terminal_observation"], atol=1e-6)
            assert info_a[i]["TimeLimit.truncated"] == info_b[i].get("TimeLimit.truncated", False)
            assert info_a[i]["episode"]["l"] >= 1
    assert ends >= n  # every car ended at least one episode (time limit 60 steps)


def test_ppo_learns_from_the_adapter_and_drives_through_the_driver():
    venv = FleetVecEnv(4, seed=0)
    model = PPO("MlpPolicy", venv, n_steps=32, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(256)
    assert model.num_timesteps == 256
    obs = venv.reset()
    actions = SB3Driver(model).act(obs, venv.fleet)
    assert actions.shape == (4, 1) and np.all(np.abs(actions) <= 1)


@pytest.mark.slow
def test_rl_vs_imitation_quick(tmp_path):
    from sims.experiments.grid import read_csv
    from sims.experiments.rl_vs_imitation import RLConfig

    tensorboard = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    assert (
        main(
            [
                "experiment",
                "rl-vs-imitation",
                "--quick",
                "--workers",
                "1",
                "--out",
                str(tmp_path),
                "--tensorboard",
                str(tmp_path / "tb"),
            ]
        )
        == 0
    )
    config = RLConfig.quick()
    rows = read_csv(tmp_path / "results.csv")
    bc = [r for r in rows if r["method"] == "bc"]
    ppo = [r for r in rows if r["method"] == "ppo"]
    assert sorted(r["roads"] for r in bc) == sorted(config.bc_roads)
    assert [r["env_steps"] for r in ppo] == list(config.ppo_checkpoints)
    assert bc[0]["env_steps"] > 0 and all(r["seconds"] > 0 for r in rows)
    assert all(r["unseen_roads"] == config.eval_roads for r in rows)
    assert ppo[0]["seconds"] < ppo[1]["seconds"]  # wall time accumulates over PPO's checkpoints
    assert (tmp_path / "rl_vs_imitation.png").stat().st_size > 10_000
    # TensorBoard: one run folder per method and seed, its budget points as a curve over env steps
    acc = tensorboard.EventAccumulator(str(tmp_path / "tb" / "method=ppo_seed=0"))
    acc.Reload()
    curve = [(e.step, e.value) for e in acc.Scalars("results/unseen_completion")]
    assert curve == [(r["env_steps"], pytest.approx(r["unseen_completion"])) for r in ppo]
    summary = (tmp_path / "summary.md").read_text()
    assert "What a student should conclude" in summary and "env steps per second" in summary
