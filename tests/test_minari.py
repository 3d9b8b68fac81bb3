"""Expert driving as a Minari dataset: full metadata, every observation type round-trips, and
``roadschool collect --minari ID`` -> ``roadschool train --data minari:ID``."""

import numpy as np
import pytest

minari = pytest.importorskip("minari")

from agents.data import CollectConfig, collect, collect_world  # noqa: E402
from agents.minari_datasets import ALGORITHM_NAME, load_minari_dataset, write_minari_dataset  # noqa: E402
from agents.model import load_checkpoint  # noqa: E402
from envs import OBSERVATION_TYPES  # noqa: E402
from sims.cli import main  # noqa: E402


@pytest.fixture(autouse=True)
def minari_home(tmp_path, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    return tmp_path / "minari"


@pytest.mark.parametrize("observation", OBSERVATION_TYPES)
def test_every_observation_type_round_trips_with_full_metadata(observation):
    cfg = CollectConfig(num_roads=2, seed=3, env=collect_world(observation=observation))
    dataset_id = f"roadschool/test-{observation}-v0"
    ds = write_minari_dataset(
        dataset_id,
        cfg,
        author="A. Student",
        author_email="a@example.org",
        code_permalink="https://example.org/roadschool",
    )
    meta = ds.storage.metadata
    assert meta["algorithm_name"] == ALGORITHM_NAME
    assert meta["author"] == {"A. Student"} and meta["author_email"] == {"a@example.org"}
    assert meta["code_permalink"] == "https://example.org/roadschool"
    assert meta["ref_min_score"] < meta["ref_max_score"]
    assert minari.get_normalized_score(ds, np.array([meta["ref_max_score"]]))[0] == pytest.approx(1.0)
    assert ds.total_episodes == 2

    # the steps are the ones agents.data.collect records (same seeds, noise, roads), up to the
    # float32 rounding of the executed steering that the dataset stores
    reference = collect(cfg)
    order = np.lexsort((reference.step, reference.episode))
    loaded = load_minari_dataset(dataset_id)
    assert loaded.obs.dtype == reference.obs.dtype and loaded.obs.shape == reference.obs.shape
    starts = np.flatnonzero(loaded.step == 0)
    assert np.array_equal(loaded.obs[starts], reference.obs[order][starts])  # 64x64x1 images too, bit for bit
    if observation in ("image", "camera"):  # uint8 pixels: a drive that drifted by 1e-4 m moves a few of them
        assert np.abs(loaded.obs.astype(int) - reference.obs[order].astype(int)).mean() < 0.5
    else:
        assert np.allclose(loaded.obs, reference.obs[order], atol=1e-3)
    assert np.allclose(loaded.action, reference.action[order], atol=1e-4)
    assert np.allclose(loaded.cte, reference.cte[order], atol=1e-4)
    assert loaded.metadata["observation"] == observation and loaded.metadata["roads"] == reference.road_names

    # the env spec rebuilds the env; an episode's seed and options replay its start
    env = minari.load_dataset(dataset_id).recover_environment()
    assert env.observation_space == ds.observation_space
    assert env.unwrapped.config.observation == observation
    (episode_meta,) = ds.storage.get_episode_metadata([1])
    episode = next(iter(ds.iterate_episodes([1])))
    options = {"family": episode_meta["options"]["family"], "road_index": int(episode_meta["options"]["road_index"])}
    obs, _ = env.reset(seed=int(episode_meta["seed"]), options=options)
    assert np.array_equal(obs, episode.observations[0])
    # transitions are the env's: the recorded actions replay the episode exactly
    for t in range(len(episode.actions)):
        obs, reward, terminated, truncated, _ = env.step(episode.actions[t])
        assert np.array_equal(obs, episode.observations[t + 1])
        assert reward == pytest.approx(episode.rewards[t])
        assert terminated == episode.terminations[t] and truncated == episode.truncations[t]
    assert ds.recover_environment(eval_env=True).unwrapped.config.split == "unseen"


def test_collect_to_minari_then_train_from_it(tmp_path, capsys):
    assert (
        main(
            [
                "collect",
                "--minari",
                "roadschool/cli-v0",
                "--roads",
                "3",
                "--no-progress",
                "--author-email",
                "me@example.org",
            ]
        )
        == 0
    )
    assert "minari:roadschool/cli-v0" in capsys.readouterr().out
    assert (
        main(
            [
                "collect",
                "--minari",
                "roadschool/cli-test-v0",
                "--split",
                "unseen",
                "--roads",
                "2",
                "--seed",
                "1",
                "--no-progress",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "train",
                "--data",
                "minari:roadschool/cli-v0",
                "--test-data",
                "minari:roadschool/cli-test-v0",
                "--out",
                str(tmp_path / "m.pt"),
                "--epochs",
                "2",
                "--hidden",
                "16",
                "--print-every",
                "0",
            ]
        )
        == 0
    )
    payload = load_checkpoint(tmp_path / "m.pt")
    steps = minari.load_dataset("roadschool/cli-v0").total_steps
    assert payload["train_data"] == {"roads": 3, "samples": steps}
    assert len(payload["history"]["test_loss"]) == 2 and np.isfinite(payload["history"]["test_loss"]).all()
    # the same id twice is refused, and so is a missing one
    assert main(["collect", "--minari", "roadschool/cli-v0", "--roads", "1", "--no-progress"]) == 2
    assert "exists already" in capsys.readouterr().err
    assert main(["train", "--data", "minari:roadschool/nothing-v0", "--out", str(tmp_path / "x.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert "no such local Minari dataset" in err and len(err.splitlines()) == 1


def test_collect_needs_an_output():
    assert main(["collect", "--roads", "1"]) == 2
