"""Trajectories as training data: the expert drives, every step is recorded.

A dataset is one ``.npz`` file holding arrays ``obs``, ``action`` (the clean
expert label, normalized: ``[M, 1]`` steering, or ``[M, 2]`` steering and throttle), ``road``
(index into the metadata's road names), ``episode``, ``step`` and ``cte`` [m], plus a JSON ``metadata`` string
(observation type, environment configuration, seeds, split, noise, package
version). It is written to a temporary file and renamed, so a crash never
leaves a half-written dataset under the final name.

Recovery data against covariate shift, two ways. DART: while collecting, the
car executes the expert's action plus seeded, temporally correlated noise,
while the recorded label stays the clean expert action; episodes also start
with random lateral and heading offsets. Side cameras (the Udacity course's
trick, for ``camera`` observations): at every recorded step two more frames are
rendered from cameras ``side_cameras`` metres left and right of the car, each
labelled with the steering the expert would choose from there (a correction
back towards the centreline).

Camera frames are big (6 KB each at 32x64): they stay ``uint8``, and
``frame_stride`` keeps every k-th step only (consecutive frames 5 cm apart at
10 m/s are nearly the same picture).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agents.drivers import Driver, ExpertDriver
from agents.expert import PathExpert
from envs import SPLITS, RoadFollowConfig, RoadFollowVectorEnv, limits
from envs.appearance import Appearance
from envs.car import CarParams
from envs.checks import check_types, in_range
from envs.config import OBSERVATION_TYPES, Disturbances
from envs.generation import get_family, road_plan
from envs.observations import observation_space
from envs.records import load_record, save_record
from envs.road import Road

FORMAT = "roadschool-dataset"
FORMAT_VERSION = 1
_ARRAYS = ("obs", "action", "road", "episode", "step", "cte")


class DatasetError(ValueError):
    """A dataset file is missing, damaged or of the wrong kind."""


def package_version() -> str:
    try:
        from importlib.metadata import version

        return version("roadschool")
    except Exception:  # not installed (running from a checkout)
        return "0.1.0+checkout"


COLLECT_WORLD = RoadFollowConfig(start_lateral_offset=1.0, start_heading_offset=0.15)
"""The world the expert collects in by default: the default one, with episodes that start up to
1 m and 0.15 rad off the centreline (recovery data from the first step)."""


def collect_world(base: RoadFollowConfig = COLLECT_WORLD, **changes) -> RoadFollowConfig:
    """``base`` (default: :data:`COLLECT_WORLD`) with ``changes`` (fields of :class:`RoadFollowConfig`)."""
    return dataclasses.replace(base, **changes)


@dataclass(frozen=True)
class CollectConfig:
    """How expert data is collected: which roads of the world ``env``, and how the car is driven there.

    The world (observation type, split, road families, start offsets, car, sensors) is ``env``
    alone: ``config.observation`` and the like read it."""

    num_roads: int = 200
    """Roads driven, one episode each (the cars drive at once)."""
    first_road: int = 0
    """Index of the first road of the split."""
    noise_std: float = 0.15
    """DART: std of the noise added to the executed (normalized) steering; the label stays clean. 0 turns it off."""
    noise_correlation: float = 0.9
    """Per-step correlation of the noise (AR(1)), in [0, 1); higher means slower, larger excursions."""
    seed: int = 0
    """Seeds the start offsets (car i gets seed + i) and the action noise."""
    max_steps: int = 3000
    """Time limit per episode [steps]."""
    frame_stride: int = 1
    """Record every this many steps (the car drives all of them; camera frames are big)."""
    side_cameras: float = 0.0
    """``camera`` only: also record frames from cameras this far [m] left and right of the car,
    labelled with the expert's steering from there. 0 turns them off."""
    env: RoadFollowConfig = COLLECT_WORLD
    """The world: observation type, split and road families (road i is of family i mod their
    number), start offsets, car, sensors, disturbances."""

    def __post_init__(self):
        check_types(self)
        if self.num_roads < 1:
            raise ValueError(f"num_roads must be at least 1, got {self.num_roads}")
        if self.num_roads > limits.MAX_CARS:
            raise limits.RequestTooLarge(
                f"num_roads must be at most {limits.MAX_CARS} (cars driven at once), got {self.num_roads}"
            )
        in_range(self, "noise_std", 0.0, 10.0)
        if not 0 <= self.noise_correlation < 1:
            raise ValueError(f"noise_correlation must be in [0, 1), got {self.noise_correlation}")
        if self.frame_stride < 1:
            raise ValueError(f"frame_stride must be at least 1, got {self.frame_stride}")
        in_range(self, "side_cameras", 0.0, 0.5 * limits.MAX_ROAD_WIDTH, unit="m")
        if self.side_cameras > 0 and self.observation != "camera":
            raise ValueError("side_cameras need camera observations")
        in_range(self, "first_road", 0, limits.MAX_ROAD_INDEX - self.num_roads)
        in_range(self, "seed", 0, 2**63 - 1)
        in_range(self, "max_steps", 1, 1_000_000, unit="steps")

    @property
    def observation(self) -> str:
        return self.env.observation

    @property
    def split(self) -> str:
        return self.env.split

    @property
    def families(self) -> tuple[str, ...]:
        return self.env.families

    def env_config(self) -> RoadFollowConfig:
        """The world the expert drives in (``env``)."""
        return self.env

    def road_options(self) -> dict:
        plan = road_plan(self.num_roads, self.families, self.first_road)
        return {"family": [family for family, _ in plan], "road_index": [index for _, index in plan]}

    @classmethod
    def from_metadata(cls, meta: dict, source: str = "the dataset") -> CollectConfig:
        """The collection a dataset's metadata records (written by :func:`dataset_metadata`,
        this version or an older one): its roads, noise and seed in the world it recorded.

        Raises:
            DatasetError: the metadata does not record a collection on a split.
        """
        if meta.get("split") not in SPLITS:
            raise DatasetError(f"{source}: was not collected on a split (split {str(meta.get('split'))[:40]!r})")
        try:
            env = env_config_from_dict(meta.get("env"), meta["observation"])
            env = dataclasses.replace(env, split=meta["split"], families=tuple(meta["families"]))
            known = {f.name for f in dataclasses.fields(cls)} - {"env"}
            return cls(env=env, **{k: meta[k] for k in known if k in meta and meta[k] is not None})
        except (KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f"{source}: its metadata does not describe a collection ({exc})") from None


@dataclass
class Dataset:
    """Recorded steps, as numpy arrays of equal length, and their metadata."""

    obs: np.ndarray
    action: np.ndarray
    road: np.ndarray
    episode: np.ndarray
    step: np.ndarray
    cte: np.ndarray
    metadata: dict

    def __len__(self) -> int:
        return len(self.action)

    @property
    def observation(self) -> str:
        return self.metadata["observation"]

    @property
    def road_names(self) -> list[str]:
        return self.metadata["roads"]

    def concatenate(self, other: Dataset) -> Dataset:
        """This dataset followed by ``other`` (road and episode ids are renumbered)."""
        if other.observation != self.observation or other.obs.shape[1:] != self.obs.shape[1:]:
            raise DatasetError("cannot join datasets of different observation types")
        names = self.road_names + [n for n in other.road_names if n not in self.road_names]
        remap = np.array([names.index(n) for n in other.road_names], dtype=np.int32)
        meta = dict(self.metadata)
        meta["roads"] = names
        meta["parts"] = self.metadata.get("parts", [_describe(self.metadata)]) + other.metadata.get(
            "parts", [_describe(other.metadata)]
        )
        return Dataset(
            np.concatenate([self.obs, other.obs]),
            np.concatenate([self.action, other.action]),
            np.concatenate([self.road, remap[other.road]]),
            np.concatenate([self.episode, other.episode + (self.episode.max() + 1 if len(self) else 0)]),
            np.concatenate([self.step, other.step]),
            np.concatenate([self.cte, other.cte]),
            meta,
        )

    # ------------------------------------------------------------------ files
    def save(self, path) -> Path:
        """Write atomically to ``path`` (``.npz``)."""
        return save_record(path, FORMAT, FORMAT_VERSION, self.metadata, {k: getattr(self, k) for k in _ARRAYS})

    @classmethod
    def load(cls, path, observation: str | None = None) -> Dataset:
        """Read a dataset; ``observation`` (if given) must match its observation type.

        Raises:
            DatasetError: naming the file and the problem.
        """
        path = Path(path)
        meta, arrays = load_record(path, FORMAT, FORMAT_VERSION, _ARRAYS, DatasetError, "dataset")
        arrays = check_dataset(path, meta, arrays)
        if observation is not None and meta.get("observation") != observation:
            raise DatasetError(
                f"{path}: holds {meta.get('observation')!r} observations, but {observation!r} are needed"
            )
        return cls(metadata=meta, **arrays)


def check_dataset(path, meta: dict, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays of a dataset file if they and its metadata make a dataset a policy can learn from.

    Checked: the observation type is a known one; ``obs`` has the shape and kind (numbers,
    not strings) the environment of the metadata gives for that type; ``action`` is one
    column of finite steering in [-1, 1] (two, steering and throttle, for an environment with
    throttle); ``obs`` and ``cte`` are finite; ``road``,
    ``episode`` and ``step`` are whole numbers, ``road`` indexing the metadata's road names;
    all arrays have one row per step. ``action`` of shape ``(n,)`` is read as ``(n, 1)``.

    Raises:
        DatasetError: naming the file and the first problem found.
    """
    observation = meta.get("observation")
    if not isinstance(observation, str) or observation not in OBSERVATION_TYPES:
        raise DatasetError(
            f"{path}: metadata names an unknown observation type {str(observation)[:40]!r}; "
            f"expected one of {', '.join(OBSERVATION_TYPES)}"
        )
    roads = meta.get("roads")
    if not isinstance(roads, list) or not all(isinstance(r, str) for r in roads):
        raise DatasetError(f"{path}: metadata 'roads' must be a list of road names")
    try:
        env = env_config_from_dict(meta.get("env"), observation)
    except (TypeError, ValueError, KeyError) as exc:
        raise DatasetError(f"{path}: metadata 'env' is not a valid environment configuration ({exc})") from None
    expected = observation_space(env).shape
    obs = arrays["obs"]
    if obs.dtype.kind not in "uif" or obs.dtype.kind == "b":
        raise DatasetError(f"{path}: obs must hold numbers, not {obs.dtype}")
    if obs.shape[1:] != expected:
        raise DatasetError(
            f"{path}: obs has rows of shape {obs.shape[1:]}, but {observation} observations of its "
            f"environment have shape {expected}" + (" (a 1-D obs array has no rows)" if obs.ndim == 1 else "")
        )
    action = arrays["action"]
    if action.ndim == 1:
        action = action.reshape(-1, 1)
    columns = env.action_size  # steering, and throttle when the environment took it
    what = "steering and throttle" if columns == 2 else "steering"
    if action.dtype.kind not in "if" or action.ndim != 2 or action.shape[1] != columns:
        raise DatasetError(
            f"{path}: action must be {'one column' if columns == 1 else 'two columns'} of {what} numbers, "
            f"got {action.dtype} of shape {action.shape}"
        )
    arrays = dict(arrays, action=action)
    n = len(action)
    for name, a in arrays.items():
        if a.ndim == 0 or len(a) != n:
            raise DatasetError(
                f"{path}: damaged dataset (arrays of different lengths: {name} has "
                f"{a.shape[0] if a.ndim else 0} rows, action {n})"
            )
    for name in ("road", "episode", "step"):
        a = arrays[name]
        if a.dtype.kind not in "iu" or a.ndim != 1:
            raise DatasetError(f"{path}: {name} must be one whole number a step, got {a.dtype} of shape {a.shape}")
        if n and a.min() < 0:
            raise DatasetError(f"{path}: {name} holds negative numbers")
    if n and arrays["road"].max() >= len(roads):
        raise DatasetError(f"{path}: road index {int(arrays['road'].max())} but the metadata names {len(roads)} roads")
    if arrays["cte"].dtype.kind not in "if" or arrays["cte"].ndim != 1:
        raise DatasetError(f"{path}: cte must be one number a step")
    for name in ("obs", "action", "cte"):
        a = arrays[name]
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            bad = int(np.flatnonzero(~np.isfinite(a.reshape(n, -1)).all(axis=1))[0])
            raise DatasetError(f"{path}: {name} holds NaN or infinite values (first in row {bad})")
    if n and not np.all(np.abs(action) <= 1.0):
        raise DatasetError(f"{path}: action holds values outside [-1, 1] (normalized {what})")
    return arrays


def env_config_from_dict(env: dict | None, observation: str) -> RoadFollowConfig:
    """The :class:`RoadFollowConfig` written by :func:`config_to_dict` (``None``: the default one)."""
    if env is None:
        return RoadFollowConfig(observation=observation)
    if not isinstance(env, dict):
        raise TypeError("not an object")
    fields = dict(env)
    if "car" in fields:
        if not isinstance(fields["car"], dict):
            raise TypeError("car is not an object")
        fields["car"] = CarParams(**fields["car"])
    if isinstance(fields.get("appearance"), dict):  # the camera's look, as config_to_dict wrote it
        fields["appearance"] = Appearance(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in fields["appearance"].items()}
        )
    if "disturbances" in fields:
        if not isinstance(fields["disturbances"], dict):
            raise TypeError("disturbances is not an object")
        fields["disturbances"] = Disturbances(**fields["disturbances"])
    config = RoadFollowConfig(**fields)
    if config.observation != observation:
        raise ValueError(f"its observation is {config.observation!r}, the dataset's {observation!r}")
    return config


def _describe(meta: dict) -> dict:
    return {k: meta.get(k) for k in ("split", "families", "first_road", "num_roads", "noise_std", "seed", "source")}


def collect(
    config: CollectConfig,
    driver: Driver | None = None,
    labeler: PathExpert | None = None,
    roads: list[Road] | None = None,
    progress: bool = False,
) -> Dataset:
    """Drive one episode per road, all roads at once, and record every step.

    Args:
        config: what to collect.
        driver: who drives (default: the expert). DAgger passes the learner here.
        labeler: who labels each visited state (default: the path expert).
        roads: explicit roads to drive instead of the configured split.
        progress: show a progress bar.
    """
    labeler = labeler or PathExpert()
    driver = driver or ExpertDriver(labeler)
    env_cfg = config.env_config()
    n = len(roads) if roads is not None else config.num_roads
    limits.check_memory(
        f"collecting {n} roads of {config.observation} observations",
        collect_memory(env_cfg, config.max_steps, roads, n, config.families),
    )
    env = RoadFollowVectorEnv(n, config=env_cfg, max_episode_steps=config.max_steps)
    options = {"road": list(roads)} if roads is not None else config.road_options()
    obs, _ = env.reset(seed=config.seed, options=options)
    fleet = env.fleet
    names = [str(x) for x in fleet.road_labels]
    rng = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(0x4E4F495345,)))
    size = env_cfg.action_size  # steering, and throttle when the env takes it
    noise = np.zeros((n, size))
    alive = np.ones(n, dtype=bool)
    rows: dict[str, list] = {k: [] for k in _ARRAYS}
    step = 0
    bar = _progress(config.max_steps, progress, "collect")
    while alive.any():
        label = labeler.act(fleet)
        executed = driver.act(obs, fleet)
        if config.noise_std > 0:  # on every action: steering, and throttle if there is one
            rho = config.noise_correlation
            noise = rho * noise + np.sqrt(1 - rho * rho) * config.noise_std * rng.standard_normal((n, size))
            executed = executed + noise
        if step % config.frame_stride == 0:
            idx = np.flatnonzero(alive)
            views = [(obs, label, 0.0)]
            for shift in (config.side_cameras, -config.side_cameras) if config.side_cameras > 0 else ():
                views.append((side_camera(fleet, shift), labeler.act(fleet, lateral_shift=shift), shift))
            for view, view_label, shift in views:
                rows["obs"].append(view[idx])
                rows["action"].append(view_label[idx].astype(np.float32))
                rows["road"].append(idx.astype(np.int32))
                rows["episode"].append(idx.astype(np.int32))
                rows["step"].append(np.full(len(idx), step, dtype=np.int32))
                rows["cte"].append((fleet.cte[idx] + shift).astype(np.float32))
        obs, _, term, trunc, _ = env.step(np.clip(executed, -1, 1))
        alive &= ~(term | trunc)
        step += 1
        bar.update(1)
    bar.close()
    meta = dataset_metadata(config, obs.shape[1:], names, getattr(driver, "name", "driver"), on_split=roads is None)
    arrays = {k: np.concatenate(v) for k, v in rows.items()}
    arrays["action"] = arrays["action"].reshape(len(arrays["action"]), size)
    return Dataset(metadata=meta, **arrays)


def dataset_metadata(config: CollectConfig, obs_shape, roads: list[str], source: str, on_split: bool = True) -> dict:
    """The metadata of a dataset ``config`` collected: plain JSON-able Python, the same for an
    ``.npz`` dataset and a Minari one. The collection's fields are at the top (as every version
    wrote them) and the world under ``env``; ``on_split=False`` for roads given explicitly
    (a roads file), whose split is ``custom``.

    Args:
        obs_shape: shape of one observation.
        roads: the road names, in the order of the dataset's road indices.
        source: who drove (``expert``, ``learner``, ``human``).
    """
    env = config.env
    return {
        "observation": env.observation,
        "obs_shape": [int(v) for v in obs_shape],
        "split": env.split if on_split else "custom",
        "families": list(env.families),
        "first_road": config.first_road,
        "num_roads": len(roads),
        "noise_std": config.noise_std,
        "noise_correlation": config.noise_correlation,
        "start_lateral_offset": env.start_lateral_offset,
        "start_heading_offset": env.start_heading_offset,
        "seed": config.seed,
        "max_steps": config.max_steps,
        "frame_stride": config.frame_stride,
        "side_cameras": config.side_cameras,
        "source": source,
        "env": config_to_dict(env),
        "roads": list(roads),
        "package_version": package_version(),
    }


def collect_memory(env_config: RoadFollowConfig, max_steps: int, roads: list[Road] | None, n: int, families) -> float:
    """Estimated memory [bytes] of collecting on ``n`` roads (``roads``, or generated ones of ``families``).

    Each car records a row a step (its observation and 20 bytes of labels), kept per step and
    then joined (so twice); it drives its road's length at the target speed, or ``max_steps``.
    Each road's samples (~100 bytes each, geometry and its kernel copy) come on top.
    """
    space = observation_space(env_config)
    row = int(np.prod(space.shape)) * space.dtype.itemsize + 20
    speed = max(env_config.target_speed, 1.0)
    if roads is not None:
        lengths = np.array([r.length for r in roads], dtype=np.float64)
    else:
        lengths = np.full(n, max(get_family(f).length_range[1] for f in families))
    steps = np.minimum(lengths / (speed * env_config.dt) * 1.2 + 10, max_steps)
    return float(2 * row * steps.sum() + 100 * (lengths / 0.5).sum())


def side_camera(fleet, shift: float) -> np.ndarray:
    """``[N, H, W, 3]`` frames of cameras ``shift`` [m] to the left of every car of ``fleet``
    (right if negative), looking along the car's heading."""
    state = fleet.state.copy()
    heading = state[:, 2]
    state[:, 0] -= shift * np.sin(heading)
    state[:, 1] += shift * np.cos(heading)
    return fleet.sensor(state, fleet.track, fleet.roads, fleet.parallel_from)


def config_to_dict(config) -> dict:
    """A dataclass config as plain JSON-able Python."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def _progress(total: int, enabled: bool, desc: str):
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="step", leave=False, dynamic_ncols=True)


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass
