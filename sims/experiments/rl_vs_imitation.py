"""``roadschool experiment rl-vs-imitation``: Stable-Baselines3 PPO against behaviour cloning.

Both learn on the same train roads (the first ``train_roads`` of the split, gentle and twisty in
turn) and are tested on the same unseen roads, in closed loop, by completion and mean |cross-track
error|. Both budgets are counted the same two ways:

* **env steps**: for behaviour cloning, the steps the expert drove to make the data (one episode
  per road, with DART noise: 1, 2, 4 ... roads); for PPO, the steps it drove while learning;
* **wall time** on one CPU thread: behaviour cloning's collection plus training, PPO's learning
  (the evaluations at its checkpoints are not counted).

PPO (SB3 defaults but for ``n_steps``, batch size and epochs, observations and rewards normalized by
``VecNormalize``) runs on :class:`agents.sb3.FleetVecEnv`, the native vector env as an SB3 ``VecEnv``,
with the start offsets the expert's data has; it is evaluated at checkpoints through its run.
Behaviour cloning is ``agents.training.train`` on the expert's data, a fixed number of epochs.
Needs the ``rl`` extra.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from envs import DEFAULT_FAMILIES, FAMILIES
from envs.checks import in_range
from sims.experiments.figures import plot_with_spread, pyplot, save_figure
from sims.experiments.grid import (
    Backend,
    check_grid,
    mean_and_spread,
    run_grid,
    write_csv,
    write_text,
)

METHODS = ("bc", "ppo")
LABELS = {"bc": "behaviour cloning (expert data)", "ppo": "PPO (Stable-Baselines3)", "expert": "expert"}
COLOURS = {"bc": "#1f5fd6", "ppo": "#d7301f", "expert": "#555555"}


@dataclass(frozen=True)
class RLConfig:
    """The comparison's budget."""

    seeds: int = 2
    """Seeds per method and budget point."""
    first_seed: int = 0
    """Seeds are first_seed, first_seed + 1, ..."""
    train_roads: int = 32
    """Both methods learn on these train roads (BC's largest dataset drives all of them once)."""
    bc_roads: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    """BC budget points: the expert drives this many roads (one episode each)."""
    bc_epochs: int = 30
    ppo_steps: int = 204_800
    """PPO's whole budget [env steps] (50 rollouts of 16 cars x 256 steps)."""
    ppo_checkpoints: tuple[int, ...] = (4096, 8192, 16384, 32768, 65536, 131072, 204_800)
    """Env steps at which PPO is evaluated (rounded up to whole rollouts)."""
    ppo_envs: int = 16
    """Cars PPO drives at once."""
    ppo_n_steps: int = 256
    """Steps per car per PPO rollout."""
    ppo_batch_size: int = 512
    ppo_epochs: int = 5
    ppo_learning_rate: float = 3e-4
    eval_roads: int = 24
    """Unseen roads every policy drives at every budget point."""
    families: tuple[str, ...] = field(default=DEFAULT_FAMILIES, metadata={"choices": tuple(FAMILIES)})
    """Road families, used in turn."""

    def __post_init__(self):
        check_grid(self)
        for name in ("ppo_steps", "ppo_envs", "ppo_n_steps", "ppo_batch_size"):
            in_range(self, name, 1, 2**31)
        if not self.bc_roads or min(self.bc_roads) < 1 or not self.ppo_checkpoints or min(self.ppo_checkpoints) < 1:
            raise ValueError("bc_roads and ppo_checkpoints must be positive counts")
        if not (self.ppo_learning_rate > 0 and math.isfinite(self.ppo_learning_rate)):
            raise ValueError(f"ppo_learning_rate must be positive, got {self.ppo_learning_rate}")

    @classmethod
    def quick(cls) -> RLConfig:
        return cls(
            seeds=1,
            train_roads=4,
            bc_roads=(1, 2),
            bc_epochs=3,
            ppo_steps=2048,
            ppo_checkpoints=(1024, 2048),
            ppo_envs=8,
            ppo_n_steps=128,
            ppo_batch_size=256,
            ppo_epochs=2,
            eval_roads=2,
        )

    def with_overrides(self, seeds=None, first_seed=None, ppo_steps=None) -> RLConfig:
        changes = {k: v for k, v in (("seeds", seeds), ("first_seed", first_seed)) if v is not None}
        if ppo_steps is not None:
            changes["ppo_steps"] = ppo_steps
            changes["ppo_checkpoints"] = tuple(c for c in self.ppo_checkpoints if c < ppo_steps) + (ppo_steps,)
        config = replace(self, **changes)
        if max(config.bc_roads) > config.train_roads:
            raise ValueError(
                f"bc_roads go up to {max(config.bc_roads)}, more than the {config.train_roads} train roads"
            )
        return config


@dataclass(frozen=True)
class RLRun:
    """One learner: BC on ``roads`` expert episodes, or PPO with its checkpoints; one seed."""

    method: str
    seed: int
    config: RLConfig
    roads: int = 0
    """BC only: expert episodes (roads) in the data."""

    @property
    def cost(self) -> float:
        return self.config.ppo_steps if self.method == "ppo" else 800 * self.roads * self.config.bc_epochs / 50

    def __str__(self) -> str:
        return describe(self)


def describe(spec: RLRun) -> str:
    return f"ppo seed {spec.seed}" if spec.method == "ppo" else f"bc {spec.roads:>3} roads seed {spec.seed}"


def grid(config: RLConfig) -> list[RLRun]:
    seeds = range(config.first_seed, config.first_seed + config.seeds)
    return [RLRun("ppo", s, config) for s in seeds] + [
        RLRun("bc", s, config, roads=k) for k in config.bc_roads for s in seeds
    ]


def _unseen(config: RLConfig):
    from envs.generation import split_roads

    return split_roads("unseen", config.eval_roads, config.families)


def _closed_loop(driver, config: RLConfig) -> dict:
    from agents.evaluation import aggregate, drive, env_config_for

    return aggregate([t.metrics() for t in drive(driver, _unseen(config), env_config_for("features"))])


def run(spec: RLRun) -> dict:
    return _run_ppo(spec) if spec.method == "ppo" else _run_bc(spec)


def _point(spec: RLRun, env_steps: int, seconds: float, result: dict, **extra) -> dict:
    return {
        "method": spec.method,
        "seed": spec.seed,
        "env_steps": int(env_steps),
        "seconds": round(seconds, 3),
        "unseen_completion": result["completion_rate"],
        "unseen_off_road": result["off_road_rate"],
        "unseen_mean_abs_cte": result["mean_abs_cte"],
        "unseen_roads": result["episodes"],
        **extra,
    }


def _run_bc(spec: RLRun) -> dict:
    from agents.data import CollectConfig, collect, collect_world
    from agents.drivers import PolicyDriver
    from agents.training import TrainConfig, train

    config = spec.config
    clock = time.perf_counter()
    data = collect(CollectConfig(num_roads=spec.roads, seed=spec.seed, env=collect_world(families=config.families)))
    policy, _ = train(data, None, TrainConfig(epochs=config.bc_epochs, seed=spec.seed, print_every=0))
    seconds = time.perf_counter() - clock
    point = _point(spec, len(data), seconds, _closed_loop(PolicyDriver(policy), config), roads=spec.roads)
    return {"row": point, "details": {"points": [point]}}


def _run_ppo(spec: RLRun) -> dict:
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecNormalize

    from agents.data import collect_world
    from agents.sb3 import FleetVecEnv, SB3Driver

    config = spec.config
    # the world the expert's data comes from: the same roads, the same start offsets
    world = collect_world(families=config.families)
    per_family = math.ceil(config.train_roads / len(config.families))
    world = replace(world, road_indices=tuple(range(per_family)))
    torch.manual_seed(spec.seed)
    venv = VecNormalize(FleetVecEnv(config.ppo_envs, world, seed=spec.seed), norm_obs=True, norm_reward=True)
    model = PPO(
        "MlpPolicy",
        venv,
        n_steps=config.ppo_n_steps,
        batch_size=config.ppo_batch_size,
        n_epochs=config.ppo_epochs,
        learning_rate=config.ppo_learning_rate,
        seed=spec.seed,
        device="cpu",
        verbose=0,
    )
    points, learning_seconds = [], 0.0
    for target in sorted(set(config.ppo_checkpoints)):
        if target > model.num_timesteps:
            clock = time.perf_counter()
            model.learn(target - model.num_timesteps, reset_num_timesteps=False)
            learning_seconds += time.perf_counter() - clock
        venv.training = False  # the statistics stay frozen while it is tested
        points.append(
            _point(
                spec,
                model.num_timesteps,
                learning_seconds,
                _closed_loop(SB3Driver(model, venv), config),
                roads=config.train_roads,
            )
        )
        venv.training = True
    venv.close()
    row = dict(points[-1])
    row["steps_per_second"] = round(model.num_timesteps / max(learning_seconds, 1e-9), 1)
    return {"row": row, "details": {"points": points}}


def run_experiment(out: Path, config: RLConfig, backend: Backend = Backend(), log=print) -> list[dict]:
    """Run the grid; write ``results.csv`` (one row per budget point), ``rl_vs_imitation.png`` and
    ``summary.md``. Returns the rows."""
    try:
        import stable_baselines3  # noqa: F401
    except ImportError:
        raise ValueError("rl-vs-imitation needs Stable-Baselines3: pip install -c constraints.txt -e '.[rl]'") from None
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    specs = grid(config)
    log(f"rl-vs-imitation: {len(specs)} runs on {backend.describe()}")
    results = run_grid(run, specs, backend, describe, log)
    rows = [p for r in results for p in r["details"]["points"]]
    ppo_speed = [r["row"]["steps_per_second"] for r in results if r["row"]["method"] == "ppo"]
    from agents.drivers import ExpertDriver

    expert = _closed_loop(ExpertDriver(), config)
    write_csv(out / "results.csv", rows)
    plot(rows, expert, config, out / "rl_vs_imitation.png")
    table = format_table(rows)
    write_text(out / "summary.md", summary(rows, expert, config, table, ppo_speed))
    log(table)
    log(f"wrote {out}/results.csv, rl_vs_imitation.png, summary.md")
    return rows


# ------------------------------------------------------------------ reporting
def _curve(rows, method, x_key):
    """Budget points of one method: x values (means over seeds) and the seeds' values per point."""
    mine = [r for r in rows if r["method"] == method]
    group_key = "roads" if method == "bc" else "env_steps"
    groups = sorted({r[group_key] for r in mine})
    xs, ys_completion, ys_cte = [], [], []
    for g in groups:
        points = [r for r in mine if r[group_key] == g]
        xs.append(mean_and_spread([float(p[x_key]) for p in points])[0])
        ys_completion.append([100 * float(p["unseen_completion"]) for p in points])
        ys_cte.append([float(p["unseen_mean_abs_cte"]) for p in points])
    return xs, ys_completion, ys_cte


def format_table(rows: list[dict]) -> str:
    heads = ["method", "budget", "env steps", "seconds", "completion", "off-road", "|cte| m", "seeds"]
    widths = [8, 12, 11, 9, 12, 10, 9, 6]
    lines = ["".join(f"{h:>{w}}" if i else f"{h:<{w}}" for i, (h, w) in enumerate(zip(heads, widths)))]
    for method in METHODS:
        mine = [r for r in rows if r["method"] == method]
        key = "roads" if method == "bc" else "env_steps"
        for g in sorted({r[key] for r in mine}):
            points = [r for r in mine if r[key] == g]

            def mean(k, points=points):
                return mean_and_spread([float(p[k]) for p in points])[0]

            budget = f"{g} roads" if method == "bc" else f"{g} steps"
            vals = [
                method,
                budget,
                f"{mean('env_steps'):.0f}",
                f"{mean('seconds'):.1f}",
                f"{100 * mean('unseen_completion'):.0f}%",
                f"{100 * mean('unseen_off_road'):.0f}%",
                f"{mean('unseen_mean_abs_cte'):.3f}",
                str(len(points)),
            ]
            lines.append("".join(f"{v:>{w}}" if i else f"{v:<{w}}" for i, (v, w) in enumerate(zip(vals, widths))))
    return "\n".join(lines)


def plot(rows: list[dict], expert: dict, config: RLConfig, path) -> Path:
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    for col, (x_key, x_label) in enumerate(
        (
            ("env_steps", "env steps of experience (expert's or PPO's own)"),
            ("seconds", "wall time [s], one CPU thread (BC: collect + train)"),
        )
    ):
        for method in METHODS:
            xs, completion, cte = _curve(rows, method, x_key)
            if not xs:
                continue
            plot_with_spread(axes[0, col], xs, completion, COLOURS[method], LABELS[method])
            plot_with_spread(axes[1, col], xs, cte, COLOURS[method], LABELS[method])
        axes[1, col].axhline(expert["mean_abs_cte"], color=COLOURS["expert"], ls="--", lw=1.2, label=LABELS["expert"])
        for row in (0, 1):
            ax = axes[row, col]
            ax.set_xscale("log")
            ax.set_xlabel(x_label)
            ax.grid(alpha=0.3, which="both")
            ax.legend(fontsize=8)
        axes[0, col].set_ylabel(f"completion on {config.eval_roads} unseen roads [%]")
        axes[0, col].set_ylim(-5, 105)
        axes[1, col].set_ylabel("mean |cross-track error| on unseen roads [m]")
        axes[1, col].set_yscale("log")
    axes[0, 0].set_title("Completion against experience")
    axes[0, 1].set_title("Completion against wall time")
    axes[1, 0].set_title("Mean |cte| against experience (lower is better)")
    axes[1, 1].set_title("Mean |cte| against wall time")
    fig.suptitle(
        f"PPO against behaviour cloning on the same {config.train_roads} train roads; "
        f"band: lowest to highest of {config.seeds} seed(s)",
        fontsize=11,
    )
    fig.tight_layout()
    return save_figure(fig, path)


def _first_reaching(rows, method, completion: float, key: str):
    """The smallest mean ``key`` (env steps or seconds) at which ``method``'s mean completion reaches ``completion``."""
    xs, comp, _ = _curve(rows, method, key)
    for x, values in zip(xs, comp):
        if mean_and_spread(values)[0] >= 100 * completion - 1e-9:
            return x
    return None


def summary(rows: list[dict], expert: dict, config: RLConfig, table: str, ppo_speed: list[float]) -> str:
    ppo_final = [
        r
        for r in rows
        if r["method"] == "ppo" and r["env_steps"] == max(p["env_steps"] for p in rows if p["method"] == "ppo")
    ]
    lines = [
        "# Reinforcement learning beside imitation",
        "",
        f"- Both learn on the first {config.train_roads} train roads and drive the same {config.eval_roads} unseen "
        f"roads; {config.seeds} seed(s).",
        f"- Behaviour cloning: the expert drives {', '.join(map(str, config.bc_roads))} road(s) with DART noise, "
        f"then {config.bc_epochs} epochs of the tutorial's loop. Its env steps are the expert's; its seconds are "
        "collection plus training.",
        f"- PPO: Stable-Baselines3, {config.ppo_envs} cars on `agents.sb3.FleetVecEnv`, n_steps "
        f"{config.ppo_n_steps}, batch {config.ppo_batch_size}, {config.ppo_epochs} epochs per rollout, learning "
        f"rate {config.ppo_learning_rate:g}, VecNormalize; evaluated at "
        f"{', '.join(map(str, sorted(set(config.ppo_checkpoints))))} env steps (evaluation time not counted).",
        "- Wall times: one CPU thread per run (PyTorch and the simulation), runs in parallel on the other cores.",
        f"- The expert on the same unseen roads: {100 * expert['completion_rate']:.0f}% completion, "
        f"mean |cte| {expert['mean_abs_cte']:.3f} m.",
        "",
        "Means over seeds (`results.csv`: one row per run and budget point):",
        "",
        "```",
        table,
        "```",
        "",
        "## What a student should conclude",
        "",
    ]
    if ppo_speed:
        lines.append(
            f"- PPO learned at {mean_and_spread(ppo_speed)[0]:,.0f} env steps per second of wall time "
            "(rollouts and gradient steps together)."
        )
    for target in (1.0,):
        for method in METHODS:
            steps = _first_reaching(rows, method, target, "env_steps")
            seconds = _first_reaching(rows, method, target, "seconds")
            if steps is None:
                lines.append(f"- {LABELS[method]} did not complete every unseen road within its budget.")
            else:
                lines.append(
                    f"- {LABELS[method]} first completed every unseen road (mean over seeds) after "
                    f"{steps:,.0f} env steps and {seconds:.1f} s."
                )
    bc_xs, _, bc_cte = _curve(rows, "bc", "env_steps")
    ppo_xs, _, ppo_cte = _curve(rows, "ppo", "env_steps")
    bc_means = [mean_and_spread(v)[0] for v in bc_cte]
    ppo_means = [mean_and_spread(v)[0] for v in ppo_cte]
    imitation_cheaper = False
    if bc_means and ppo_means:
        b = min(range(len(bc_means)), key=lambda i: bc_means[i])
        ppo_seconds = mean_and_spread([r["seconds"] for r in ppo_final])[0]
        bc_seconds = _curve(rows, "bc", "seconds")[0][b]
        lines.append(
            f"- Precision: after all {ppo_xs[-1]:,.0f} of its env steps ({ppo_seconds:.0f} s), PPO's mean |cte| on "
            f"unseen roads is {ppo_means[-1]:.3f} m; behaviour cloning's lowest is {bc_means[b]:.3f} m, from "
            f"{bc_xs[b]:,.0f} expert steps ({bc_seconds:.1f} s): "
            f"PPO's is {ppo_means[-1] / max(bc_means[b], 1e-12):.1f}x "
            f"behaviour cloning's (the expert: {expert['mean_abs_cte']:.3f} m)."
        )
        near = min(range(len(ppo_xs)), key=lambda i: abs(math.log(ppo_xs[i] / bc_xs[-1])))
        lines.append(
            f"- At about the same experience, {bc_xs[-1]:,.0f} env steps, behaviour cloning drives at "
            f"{bc_means[-1]:.3f} m and PPO (at {ppo_xs[near]:,.0f} steps) at {ppo_means[near]:.3f} m."
        )
        imitation_cheaper = bc_means[b] < ppo_means[-1] and bc_xs[b] <= ppo_xs[-1]
        if len(ppo_means) > 1 and ppo_means[-1] < ppo_means[-2]:
            lines.append(
                f"- PPO was still improving when its budget ran out ({ppo_means[-2]:.3f} m at "
                f"{ppo_xs[-2]:,.0f} steps, {ppo_means[-1]:.3f} m at {ppo_xs[-1]:,.0f}): more steps "
                "(`--ppo-steps`) may narrow the gap; how far, this run does not say."
            )
    if not imitation_cheaper:
        lines.append(
            "- In this run PPO matched or beat behaviour cloning's precision within the budget: "
            "compare the curves above rather than the usual expectation below."
        )
    lines += [
        "- Why imitation is usually ahead: behaviour cloning is told the right steering at every step (a dense, "
        "exact label from an expert that knows the road); PPO only sees rewards, must find out by trial which "
        "steering earns them, and optimizes the reward it is given "
        "(progress, a mild centring penalty), not the expert's precision. "
        + (
            "Where an expert exists, imitation is the cheaper way to a precise driver, as here; "
            if imitation_cheaper
            else ""
        )
        + "RL needs no expert, and pays for that in experience.",
        "- A reward that weighs the cross-track error more (`envs.RoadFollowConfig.centering_penalty`) would aim "
        "PPO at precision.",
    ]
    return "\n".join(lines) + "\n"
