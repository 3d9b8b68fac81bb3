"""Expert driving as a Minari dataset, and Minari datasets as training data.

:func:`write_minari_dataset` lets the expert drive (with the same DART noise, seeds and roads as
:func:`agents.data.collect`; the executed steering is rounded to the float32 the dataset stores, so
the steps agree with ``collect``'s to float32 precision) and stores every episode in
Minari's format: observations (one more than actions), the *executed* actions (expert plus noise,
so each transition is what the env really did), rewards, terminations, truncations and, in
``infos``, the expert's clean label (``expert_action``) and the cross-track error (``cte``) [m].
Episode ``i`` keeps its seed and reset options (``family``, ``road_index``), so
``dataset.recover_environment()`` plus ``reset(seed=episode.seed, options=...)`` replays its
start; the eval env (``recover_environment(eval_env=True)``) draws unseen roads. Reference
scores: the mean return of uniformly random steering (``ref_min_score``) and of the expert
without noise (``ref_max_score``) on the same roads, so ``minari.get_normalized_score`` is 0
for random steering and 1 for the expert.

Image observations (``64x64x1``) are stored raw, not JPEG-encoded: Minari's JPEG path cannot
encode one-channel images, and JPEG is lossy; raw, they round-trip exactly.

:func:`load_minari_dataset` turns any Minari dataset of this env into an
:class:`agents.data.Dataset` (labels: ``infos["expert_action"]`` where present, else the actions).
Needs the ``minari`` extra: ``pip install -c constraints.txt -e '.[minari]'``.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np

from agents.data import CollectConfig, Dataset, DatasetError, config_to_dict, dataset_metadata
from agents.expert import PathExpert
from envs import ENV_ID, RoadFollowConfig, RoadFollowVectorEnv

ALGORITHM_NAME = "roadschool PathExpert with DART steering noise"
INSTALL_HINT = "Minari datasets need Minari: pip install -c constraints.txt -e '.[minari]'"
DEFAULT_AUTHOR = "roadschool"
DEFAULT_CODE_LINK = "roadschool (agents/minari_datasets.py: write_minari_dataset)"
METADATA_KEY = "roadschool_metadata"
"""Key of the JSON roadschool dataset metadata inside the Minari dataset's metadata."""
SPEC_FIELDS = ("observation", "split", "families", "start_lateral_offset", "start_heading_offset")
"""RoadFollowConfig fields the env spec carries; the others must be at their defaults."""


def require_minari():
    try:
        import minari
    except ImportError:
        raise ValueError(INSTALL_HINT) from None
    return minari


def env_kwargs(config: RoadFollowConfig) -> dict:
    """``gym.make`` keyword arguments (JSON-able) that rebuild ``config``; a ValueError if a field
    that an env spec cannot carry (car, disturbances, ...) differs from its default."""
    defaults = RoadFollowConfig()
    kwargs = {}
    for f in dataclasses.fields(RoadFollowConfig):
        value, default = getattr(config, f.name), getattr(defaults, f.name)
        if f.name in SPEC_FIELDS:
            kwargs[f.name] = list(value) if isinstance(value, tuple) else value
        elif value != default:
            raise ValueError(f"a Minari env spec carries only {', '.join(SPEC_FIELDS)}; {f.name} is not the default")
    return kwargs


def _episodes(config: CollectConfig, n: int, record_executed: bool, noise_std: float, driver=None):
    """Drive one episode per road (like ``agents.data.collect``); return per-episode arrays."""
    labeler = PathExpert()
    env = RoadFollowVectorEnv(n, config=config.env_config(), max_episode_steps=config.max_steps)
    obs, _ = env.reset(seed=config.seed, options=config.road_options())
    fleet = env.fleet
    road_names = [str(x) for x in fleet.road_labels]  # before any car autoresets onto another road
    rng = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(0x4E4F495345,)))
    noise = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    rows = {k: [] for k in ("episode", "obs", "label", "executed", "reward", "terminated", "truncated", "cte")}
    final_obs = [None] * n
    final_label = np.zeros(n, dtype=np.float32)
    final_cte = np.zeros(n, dtype=np.float32)
    ended = np.zeros(n, dtype=bool)
    while alive.any():
        label = labeler.act(fleet)[:, 0]
        final_label[ended] = label[ended]  # the expert's label at the last observation of an episode
        ended[:] = False
        executed = label if driver is None else driver(obs)
        if noise_std > 0:
            rho = config.noise_correlation
            noise = rho * noise + np.sqrt(1 - rho * rho) * noise_std * rng.standard_normal(n)
            executed = executed + noise
        # the env runs the float32 action the dataset stores, so every stored transition replays exactly
        executed = np.clip(executed, -1, 1).astype(np.float32).astype(np.float64)
        idx = np.flatnonzero(alive)
        rows["episode"].append(idx)
        rows["obs"].append(obs[idx])
        rows["label"].append(label[idx].astype(np.float32))
        rows["executed"].append(executed[idx].astype(np.float32))
        rows["cte"].append(fleet.cte[idx].astype(np.float32))
        obs, reward, term, trunc, _ = env.step(executed[:, None])
        rows["reward"].append(reward[idx].astype(np.float64))
        rows["terminated"].append(term[idx])
        rows["truncated"].append(trunc[idx])
        for i in idx[(term | trunc)[idx]]:
            final_obs[i] = obs[i].copy()
            final_cte[i] = fleet.cte[i]
            ended[i] = True
        alive &= ~(term | trunc)
    final_label[ended] = labeler.act(fleet)[ended, 0]
    arrays = {k: np.concatenate(v) for k, v in rows.items()}
    order = np.argsort(arrays["episode"], kind="stable")  # per episode, in step order
    counts = np.bincount(arrays["episode"], minlength=n)
    split = np.cumsum(counts)[:-1]
    per_episode = {k: np.split(v[order], split) for k, v in arrays.items() if k != "episode"}
    env.close()
    return per_episode, final_obs, final_label, final_cte, road_names


def _mean_return(config: CollectConfig, n: int, how: str) -> float:
    """Mean undiscounted return on the dataset's roads: ``expert`` (no noise) or ``random`` steering."""
    if how == "expert":
        episodes, *_ = _episodes(config, n, False, 0.0)
    else:
        rng = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(0x52414E44,)))
        episodes, *_ = _episodes(config, n, False, 0.0, driver=lambda obs: rng.uniform(-1, 1, len(obs)))
    return float(np.mean([r.sum() for r in episodes["reward"]]))


def write_minari_dataset(
    dataset_id: str,
    config: CollectConfig = CollectConfig(),
    author: str = DEFAULT_AUTHOR,
    author_email: str | None = None,
    code_permalink: str = DEFAULT_CODE_LINK,
    description: str | None = None,
):
    """The expert drives ``config``'s roads; the episodes become Minari dataset ``dataset_id``
    (e.g. ``roadschool/expert-features-v0``), with full metadata. Returns the ``MinariDataset``.

    Raises:
        ValueError: Minari is missing, the id is taken or malformed, or ``config`` changes
            something an env spec cannot carry.
    """
    import gymnasium as gym

    minari = require_minari()
    from minari.data_collector.episode_buffer import EpisodeBuffer

    kwargs = env_kwargs(config.env_config())
    if config.frame_stride != 1 or config.side_cameras > 0:
        raise ValueError(
            "a Minari dataset holds every step of each episode from the car itself: "
            "frame_stride must be 1 and side_cameras 0"
        )
    if dataset_id in minari.list_local_datasets():
        raise ValueError(f"Minari dataset {dataset_id!r} exists already (minari delete {dataset_id}, or another id)")
    n = config.num_roads
    episodes, final_obs, final_label, final_cte, road_names = _episodes(config, n, True, config.noise_std)
    options = config.road_options()
    buffers = []
    for i in range(n):
        buffers.append(
            EpisodeBuffer(
                id=i,
                seed=config.seed + i,
                options={"family": options["family"][i], "road_index": int(options["road_index"][i])},
                observations=np.concatenate([episodes["obs"][i], final_obs[i][None]]),
                actions=episodes["executed"][i][:, None],
                rewards=episodes["reward"][i].tolist(),
                terminations=episodes["terminated"][i].tolist(),
                truncations=episodes["truncated"][i].tolist(),
                infos={
                    "expert_action": np.concatenate([episodes["label"][i], [final_label[i]]]).astype(np.float32),
                    "cte": np.concatenate([episodes["cte"][i], [final_cte[i]]]).astype(np.float32),
                },
            )
        )
    env = gym.make(ENV_ID, max_episode_steps=config.max_steps, **kwargs)
    eval_env = gym.make(
        ENV_ID,
        max_episode_steps=config.max_steps,
        **{**kwargs, "split": "unseen", "start_lateral_offset": 0.0, "start_heading_offset": 0.0},
    )
    ref_min, ref_max = _mean_return(config, n, "random"), _mean_return(config, n, "expert")
    meta = dataset_metadata(config, final_obs[0].shape, road_names, "expert")
    description = description or (
        f"The roadschool path expert drives {n} {config.split} roads ({', '.join(config.families)}) of "
        f"{ENV_ID}, one episode each, {config.observation} observations. Actions are the executed steering: "
        f"the expert's plus AR(1) DART noise (std {config.noise_std}, correlation {config.noise_correlation}); "
        "infos['expert_action'] is the expert's clean label (train on it for behaviour cloning) and "
        "infos['cte'] the cross-track error [m]. Episodes start up to "
        f"{config.env.start_lateral_offset} m and {config.env.start_heading_offset} rad off the centreline. "
        "ref_min_score: mean return of uniform random steering on the same roads; ref_max_score: the expert "
        "without noise. recover_environment(eval_env=True) draws unseen roads."
    )
    dataset = minari.create_dataset_from_buffers(
        dataset_id,
        buffers,
        env=env,
        eval_env=eval_env,
        algorithm_name=ALGORITHM_NAME,
        author=author,
        author_email=author_email,
        code_permalink=code_permalink,
        ref_min_score=ref_min,
        ref_max_score=ref_max,
        num_episodes_average_score=n,
        description=description,
        requirements=["roadschool>=0.1"],
        jpeg_encoding=False,
    )
    dataset.storage.update_metadata({METADATA_KEY: json.dumps(meta)})
    env.close()
    eval_env.close()
    return minari.load_dataset(dataset_id)


def load_minari_dataset(dataset_id: str, observation: str | None = None) -> Dataset:
    """A Minari dataset of ``roadschool/RoadFollow-v0`` as an :class:`agents.data.Dataset`.

    Raises:
        DatasetError: the dataset is missing, not of this env, or of another observation type.
    """
    minari = require_minari()
    try:
        data = minari.load_dataset(dataset_id)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        known = ", ".join(minari.list_local_datasets()) or "none"
        raise DatasetError(f"minari:{dataset_id}: no such local Minari dataset ({exc}); local ones: {known}") from None
    raw = data.storage.metadata.get(METADATA_KEY)
    if raw is not None:
        meta = json.loads(raw)
    else:  # made elsewhere: read what the env spec says
        spec = data.spec.env_spec
        if spec is None or spec.entry_point not in ("envs.road_follow:RoadFollowEnv",) and spec.id != ENV_ID:
            raise DatasetError(f"minari:{dataset_id}: not a dataset of {ENV_ID} (env: {getattr(spec, 'id', None)})")
        kwargs = dict(spec.kwargs)
        meta = {
            "observation": kwargs.get("observation", "features"),
            "split": kwargs.get("split", "custom"),
            "env": config_to_dict(
                RoadFollowConfig(
                    **{k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items() if k in SPEC_FIELDS}
                )
            ),
        }
    meta = {**meta, "source": f"minari:{dataset_id}"}
    obs, action, road, episode, step, cte = [], [], [], [], [], []
    names = list(meta.get("roads", []))
    for k, ep in enumerate(data.iterate_episodes()):
        t = len(ep.actions)
        obs.append(np.asarray(ep.observations)[:t])
        infos = ep.infos or {}
        label = infos["expert_action"][:t] if "expert_action" in infos else np.asarray(ep.actions)[:, 0]
        action.append(np.asarray(label, dtype=np.float32).reshape(-1, 1))
        cte.append(np.asarray(infos["cte"][:t], dtype=np.float32) if "cte" in infos else np.zeros(t, np.float32))
        if k >= len(names):
            names.append(f"episode-{ep.id}")
        road.append(np.full(t, k, dtype=np.int32))
        episode.append(np.full(t, k, dtype=np.int32))
        step.append(np.arange(t, dtype=np.int32))
    if not obs:
        raise DatasetError(f"minari:{dataset_id}: holds no episodes")
    meta["roads"] = names
    meta.setdefault("obs_shape", list(obs[0].shape[1:]))
    if observation is not None and meta["observation"] != observation:
        raise DatasetError(
            f"minari:{dataset_id}: holds {meta['observation']!r} observations, but {observation!r} are needed"
        )
    return Dataset(
        np.concatenate(obs),
        np.concatenate(action),
        np.concatenate(road),
        np.concatenate(episode),
        np.concatenate(step),
        np.concatenate(cte),
        meta,
    )
