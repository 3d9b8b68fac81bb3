"""Tests of sims/windows (watch, play, draw, replay): posted events in, state and frames out.

Everything runs headless (``SDL_VIDEODRIVER=dummy``). Apps are stepped frame by
frame with ``run(max_frames, pace=False)``, so time is deterministic: each frame
is 1/60 s and a tick (one env step of 0.05 s) happens every third frame at x1.
"""

import os

os.environ["SDL_VIDEODRIVER"] = "dummy"  # before anything imports pygame

import json

import numpy as np
import pytest
from PIL import Image

from agents.drivers import ExpertDriver, PolicyDriver
from agents.evaluation import drive, env_config_for
from agents.model import SteeringPolicy
from envs import RoadFollowConfig, generate_road, load_roads, rendering, save_roads
from envs.observations import observation_space
from envs.road import Road
from sims import cli
from sims.episodes import EpisodeError, evaluate_and_save, find_episodes, load_episode
from sims.recording import video_available
from sims.windows.app import MIN_SIZE, STATUS_BAR_PX, pygame_module
from sims.windows.draw import DrawApp, RoadTrialApp, smooth_centreline
from sims.windows.driving import HOLD_SECONDS, RoadList, RoadRun
from sims.windows.keys import (
    DRAW_KEYS,
    PLAY_KEYS,
    REPLAY_KEYS,
    SPLIT_VIEW,
    TRIAL_KEYS,
    WATCH_KEYS,
    help_lines,
    hints,
)
from sims.windows.play import HumanDataset, PlayApp
from sims.windows.replay import ReplayApp, render_replay
from sims.windows.watch import WatchApp

pg = pygame_module()
SMALL = (640, 360)
DT = RoadFollowConfig().dt
FRAMES_PER_TICK = 3  # at time x1: 60 frames/s, 20 env steps/s


def key(k, **extra) -> None:
    """Post a key press (pygame key constant)."""
    pg.event.post(pg.event.Event(pg.KEYDOWN, key=k, mod=0, unicode="", scancode=0, **extra))


def key_up(k) -> None:
    pg.event.post(pg.event.Event(pg.KEYUP, key=k, mod=0, unicode="", scancode=0))


def click(pos, button: int = 1) -> None:
    pg.event.post(pg.event.Event(pg.MOUSEBUTTONDOWN, button=button, pos=pos))
    pg.event.post(pg.event.Event(pg.MOUSEBUTTONUP, button=button, pos=pos))


def resize(size) -> None:
    pg.event.post(pg.event.Event(pg.VIDEORESIZE, size=size, w=size[0], h=size[1]))


def frame_array(surface) -> np.ndarray:
    w, h = surface.get_size()
    return np.frombuffer(pg.image.tobytes(surface, "RGB"), dtype=np.uint8).reshape(h, w, 3)


def has_colour(frame: np.ndarray, colours) -> int:
    hit = np.zeros(frame.shape[:2], dtype=bool)
    for c in colours:
        hit |= np.all(frame == np.array(c, dtype=np.uint8), axis=-1)
    return int(hit.sum())


@pytest.fixture(autouse=True)
def empty_event_queue():
    pygame_module().event.clear()  # (closing an app closes the display: this opens it again)
    yield
    pygame_module().event.clear()


def watch(size=SMALL, **kwargs) -> WatchApp:
    roads = kwargs.pop("roads", RoadList(split="train"))
    both = (RoadList(split="train"), RoadList(split="unseen"))
    return WatchApp(ExpertDriver(), env_config_for("features"), roads, both, size=size, driver_label="expert", **kwargs)


def finish(run: RoadRun, limit: int = 5000) -> None:
    for _ in range(limit):
        if run.done:
            return
        run.tick()
    raise AssertionError("the run did not end")


# ----------------------------------------------------------------- watch: what it drives
def test_watch_drives_exactly_what_evaluate_measures(random_policy):
    road = generate_road("unseen", "twisty", 1)
    config = env_config_for("features")
    run = RoadRun(road, ExpertDriver(), config)
    finish(run)
    [expected] = drive(ExpertDriver(), [road], config)
    np.testing.assert_array_equal(run.trajectory.xy, expected.xy)
    np.testing.assert_array_equal(run.trajectory.cte, expected.cte)
    assert run.outcome == "finished" and expected.finished

    # a learner with the expert alongside: the ghost is the expert's own drive, step for step
    learner = PolicyDriver(SteeringPolicy.load(random_policy))
    run = RoadRun(road, learner, config, ghost_driver=ExpertDriver())
    finish(run)
    [evaluated] = drive(learner, [road], config)
    np.testing.assert_allclose(run.trajectory.xy, evaluated.xy, atol=1e-6)
    assert run.outcome == ("off road" if evaluated.off_road else "finished")
    ghost_steps = len(run.ghost)
    np.testing.assert_array_equal(run.ghost.xy, expected.xy[:ghost_steps])
    assert ghost_steps == len(run.trajectory)  # stepped together until the learner's drive ended


def test_time_speed_sets_env_steps_per_frame():
    app = watch()
    app.run(60, pace=False)  # one second at x1
    assert app.ticks == 60 // FRAMES_PER_TICK
    key(pg.K_EQUALS)
    key(pg.K_EQUALS)  # x4
    app.run(60, pace=False)
    assert app.speed == 4.0
    assert app.ticks == 20 + 80
    key(pg.K_MINUS)
    key(pg.K_MINUS)
    key(pg.K_MINUS)  # x1/2
    app.run(60, pace=False)
    assert app.speed == 0.5
    assert app.ticks == 100 + 10
    app.close()


def test_watch_keys(tmp_path):
    app = watch()
    app.run(6, pace=False)
    ticks = app.ticks
    key(pg.K_SPACE)
    app.run(30, pace=False)
    assert app.paused and app.ticks == ticks, "paused: time stands still"
    steps = len(app.panels[0].run.trajectory)
    key(pg.K_PERIOD)
    app.run(1, pace=False)
    assert app.ticks == ticks + 1 and len(app.panels[0].run.trajectory) == steps + 1, "one step"
    key(pg.K_SPACE)
    app.run(3, pace=False)
    assert not app.paused and app.ticks == ticks + 2

    key(pg.K_RIGHT)
    app.run(1, pace=False)
    assert app.panels[0].index == 1 and app.panels[0].run.road.name == "train/twisty/1"
    assert len(app.panels[0].run.trajectory) == 1, "a new road starts at its beginning"
    key(pg.K_LEFT)
    key(pg.K_LEFT)  # no road before the first
    app.run(1, pace=False)
    assert app.panels[0].index == 0

    app.run(30, pace=False)
    key(pg.K_r)
    app.run(1, pace=False)
    assert len(app.panels[0].run.trajectory) <= 2, "restart"

    before = (app.options.show_ghost, app.options.show_trail, app.options.camera)
    for k in (pg.K_g, pg.K_t, pg.K_c):
        key(k)
    app.run(1, pace=False)
    after = (app.options.show_ghost, app.options.show_trail, app.options.camera)
    assert after == (not before[0], not before[1], "road")

    key(pg.K_h)
    app.run(1, pace=False)
    assert app.show_help
    ppm = app.options.pixels_per_metre
    pg.event.post(pg.event.Event(pg.MOUSEWHEEL, x=0, y=1, flipped=False, precise_x=0.0, precise_y=1.0))
    app.run(1, pace=False)
    assert app.options.pixels_per_metre > ppm

    key(pg.K_v)
    app.run(1, pace=False)
    names = [p.run.road.name.split("/")[0] for p in app.panels]
    assert names == ["train", "unseen"], "split view: a train road and an unseen road"
    app.run(9, pace=False)
    assert all(len(p.run.trajectory) > 1 for p in app.panels), "both drive at once"
    key(pg.K_v)
    app.run(1, pace=False)
    assert len(app.panels) == 1

    key(pg.K_q)
    assert app.run(100, pace=False) == 0 and not app.running
    app.close()


def test_window_close_ends_the_loop():
    app = watch()
    pg.event.post(pg.event.Event(pg.QUIT))
    assert app.run(100, pace=False) == 0
    assert not app.running
    app.close()


def test_roads_follow_one_another_and_stop_after_max_roads():
    road = Road.from_points([[0, 0], [30, 0]], 7.0, name="short")
    app = watch(roads=RoadList([road, road.with_width(9.0)]), max_roads=2, speed=16)
    shown = app.run(10_000, pace=False)
    panel = app.panels[0]
    assert not app.running and shown < 10_000
    assert panel.results == ["finished", "finished"]
    assert panel.completed == 2
    app.close()


def test_drawing_shows_car_trail_ghost_plot_and_banner(random_policy):
    learner = PolicyDriver(SteeringPolicy.load(random_policy))
    app = WatchApp(learner, env_config_for("features"), RoadList(split="unseen"), size=(1280, 720))
    panel = app.panels[0]
    while not panel.run.done:
        app.tick()
    frame = frame_array(app.draw())
    assert frame.shape == (720, 1280, 3)
    assert has_colour(frame, [rendering.CAR_COLOUR]) > 20
    assert has_colour(frame, [rendering.GHOST_COLOUR]) > 10, "the expert's ghost"
    assert has_colour(frame, rendering.TRAIL_PALETTE) > 50, "the trail and the plot"
    plot = panel.painter.plot_rect
    assert plot is not None and plot.bottom <= 720 - STATUS_BAR_PX
    inside = frame[plot.top : plot.bottom, plot.left : plot.right]
    assert has_colour(inside, rendering.TRAIL_PALETTE) > 20, "the car's cte line in the plot"
    # the trail is drawn over the road: a trail point away from the car has a trail colour
    x, y = panel.painter.renderer.world_to_screen(panel.run.trajectory.xy[-12]).astype(int)
    assert 0 <= x < 1280 and 0 <= y < 720 - STATUS_BAR_PX
    assert has_colour(frame[y - 2 : y + 3, x - 2 : x + 3], rendering.TRAIL_PALETTE) > 0
    # the banner says how the road ended (red for off road, green for finished)
    colour = (205, 45, 40) if panel.run.outcome == "off road" else (40, 170, 70)
    assert has_colour(frame, [colour]) > 500
    app.options.show_trail = False
    app.options.show_ghost = False
    hidden = frame_array(app.draw())
    assert has_colour(hidden, [rendering.GHOST_COLOUR]) == 0
    app.close()


def test_window_survives_resizing_and_tiny_sizes():
    app = watch(size=(1280, 720))
    app.run(3, pace=False)
    resize((800, 500))
    app.run(2, pace=False)
    assert app.draw().get_size() == (800, 500)
    assert pg.display.get_surface().get_size() == (800, 500)
    resize((40, 30))  # far too small: drawn at the smallest size
    key(pg.K_v)
    app.run(2, pace=False)
    assert app.size == MIN_SIZE and app.draw().get_size() == MIN_SIZE
    for p in app.panels:
        assert p.painter.plot_rect is None, "no room for the plot: it is left out, not squeezed over the HUD"
    frame = frame_array(app.draw())
    half = MIN_SIZE[0] // 2
    for side in (frame[:, :half], frame[:, half:]):
        assert has_colour(side, [rendering.CAR_COLOUR]) > 10, "a smaller HUD leaves the car in view"
    key(pg.K_h)
    key(pg.K_c)
    app.run(2, pace=False)
    resize((1920, 1080))
    app.run(2, pace=False)
    assert app.draw().get_size() == (1920, 1080)
    app.close()


def test_road_leaving_the_screen():
    road = Road.from_points([[0, 0], [40, 0], [40, 40]], 7.0, name="corner")
    app = watch(roads=RoadList([road]))
    for _ in range(12):  # zoom far in: the road fills and leaves the view
        pg.event.post(pg.event.Event(pg.MOUSEWHEEL, x=0, y=1, flipped=False, precise_x=0.0, precise_y=1.0))
    app.run(60, pace=False)
    assert app.options.pixels_per_metre == 48.0
    for _ in range(30):  # and far out
        pg.event.post(pg.event.Event(pg.MOUSEWHEEL, x=0, y=-1, flipped=False, precise_x=0.0, precise_y=-1.0))
    app.run(200, pace=False)
    # a car that left the road and drove on is still drawn without trouble
    run = app.panels[0].run
    run.trajectory.append([5000.0, -5000.0, 0.0, 10.0, 0.0, 0.0, 7000.0, 1.0, 0.0, 0.0])
    app.draw()
    app.options.camera = "road"
    app.draw()
    app.close()


@pytest.mark.parametrize(
    "window, table",
    [
        (WatchApp, WATCH_KEYS),
        (PlayApp, PLAY_KEYS),
        (ReplayApp, REPLAY_KEYS),
        (DrawApp, DRAW_KEYS),
        (RoadTrialApp, TRIAL_KEYS),
    ],
)
def test_every_binding_is_declared_once_and_calls_a_method_of_its_window(window, table):
    assert window.keys is table
    bound = [name for k in table if k.method is not None for name in k.keys]
    assert len(bound) == len(set(bound)), "no key is bound twice"
    for k in table:
        for method in k.method if isinstance(k.method, tuple) else [k.method] * (k.method is not None):
            assert callable(getattr(window, method, None)), f"{window.__name__} has no {method}() for {k.shown}"
        if isinstance(k.method, tuple):
            assert len(k.method) == len(k.keys)
    assert [d for _, d in help_lines(table)] == [k.does for k in table], "the help box lists the table"


def test_help_and_hints_come_from_the_bindings_that_apply():
    app = watch(roads=RoadList(split="train"))
    assert SPLIT_VIEW in app.active_keys() and "v split view" in hints(app.active_keys())
    app.close()
    app = WatchApp(ExpertDriver(), env_config_for("features"), RoadList(split="train"), size=SMALL)
    assert SPLIT_VIEW not in app.active_keys(), "no split roads: no split-view key in the help or the hints"
    assert hints(app.active_keys())[:3] == ["h help", "space pause", "right/left road"]
    app.close()


# ------------------------------------------------------------------------- recordings
def test_recording_has_one_frame_per_env_step_at_dt(tmp_path):
    out = tmp_path / "watch.gif"
    app = watch(record=out, speed=16)  # faster than the screen: most steps are never shown
    shown = app.run(12, pace=False)
    ticks = app.ticks
    assert ticks == 12 * 16 // FRAMES_PER_TICK and ticks > shown
    last = frame_array(app.draw())
    app.close()
    gif = Image.open(out)
    assert gif.n_frames == ticks + 1, "the start, then every env step, none skipped"
    durations = []
    for i in range(gif.n_frames):
        gif.seek(i)
        durations.append(gif.info["duration"])
    assert durations == [int(DT * 1000)] * gif.n_frames
    assert gif.size == SMALL
    gif.seek(gif.n_frames - 1)
    recorded = np.asarray(gif.convert("RGB")).astype(int)
    assert np.abs(recorded - last).mean() < 3, "the last recorded frame is what the window shows"


def test_recording_while_paused_and_stepping(tmp_path):
    out = tmp_path / "steps.gif"
    app = watch(record=out)
    key(pg.K_SPACE)
    app.run(30, pace=False)
    for _ in range(4):
        key(pg.K_PERIOD)
    app.run(1, pace=False)
    resize((500, 300))  # frames recorded after a resize keep the recording's size
    key(pg.K_PERIOD)
    app.run(1, pace=False)
    app.close()
    gif = Image.open(out)
    assert gif.n_frames == 1 + 5 and gif.size == SMALL


def test_mp4_needs_the_video_extra(tmp_path, capsys):
    if video_available():
        pytest.skip("the video extra is installed")
    rc = cli.main(["watch", "--policy", "expert", "--record", str(tmp_path / "x.mp4"), "--max-frames", "3"])
    assert rc == 2
    assert "video extra" in capsys.readouterr().err


def test_mp4_recording_with_the_video_extra(tmp_path):
    pytest.importorskip("imageio_ffmpeg", reason="the optional video extra is not installed")
    import imageio.v2 as imageio

    out = tmp_path / "watch.mp4"
    app = watch(size=(481, 271), record=out)  # odd sides: padded to even for H.264
    app.run(30, pace=False)
    ticks = app.ticks
    app.close()
    reader = imageio.get_reader(out)
    assert reader.get_meta_data()["fps"] == pytest.approx(1 / DT)
    assert reader.count_frames() == ticks + 1
    reader.close()


# ------------------------------------------------------------------------------- play
def test_play_arrow_keys_steer_and_recording_is_a_dataset(tmp_path):
    from agents.data import Dataset

    out = tmp_path / "me.npz"
    app = PlayApp(env_config_for("features"), RoadList(split="train"), record=out, size=SMALL, countdown=0.5)
    app.run(30, pace=False)  # the countdown: the car waits
    assert len(app.panels[0].run.trajectory) == 1
    key(pg.K_LEFT)
    app.run(12, pace=False)  # 4 steps of 0.05 s
    assert app.human.command == pytest.approx(4 * 0.05 * 2.5), "holding left turns the wheel left, gradually"
    assert app.panels[0].run.trajectory.steer[-1] > 0
    key_up(pg.K_LEFT)
    app.run(12, pace=False)
    assert app.human.command == 0.0, "let go: back to straight"
    assert not app.panels[0].run.done
    pg.event.post(pg.event.Event(pg.JOYAXISMOTION, joy=0, instance_id=0, axis=0, value=0.5))
    app.run(3, pace=False)
    assert app.human.command == -0.5 and app.human.input == "gamepad", "stick right steers right"
    pg.event.post(pg.event.Event(pg.JOYAXISMOTION, joy=0, instance_id=0, axis=0, value=0.0))
    steps = len(app.panels[0].run.trajectory) - 1
    hud = app.panels[0].hud(app.driver_label())
    assert "cte" in hud and hud["driver"].startswith("you")
    actions = app.panels[0].run.trajectory.steer
    app.close()

    data = Dataset.load(out)
    assert len(data) == steps
    assert data.metadata["source"] == "human" and data.observation == "features"
    assert data.obs.shape == (steps, *observation_space(RoadFollowConfig()).shape)
    assert data.action.shape == (steps, 1) and data.action.max() == pytest.approx(0.5) and data.action.min() == -0.5
    assert (np.diff(data.step) == 1).all() and (data.episode == 0).all()
    assert np.abs(data.cte).max() > 0
    assert len(actions) == steps + 1
    # roadschool train learns from it
    rc = cli.main(["train", "--data", str(out), "--out", str(tmp_path / "me.pt"), "--epochs", "1", "--no-progress"])
    assert rc == 0 and (tmp_path / "me.pt").exists()


def test_play_dataset_labels_are_the_executed_actions(tmp_path):
    config = env_config_for("features")
    roads = RoadList(split="unseen")
    data = HumanDataset(tmp_path / "d.npz", config, roads)
    wanted = 0.1 * np.sin(np.arange(40) / 5.0)
    commands = iter(wanted)

    class Scripted:
        name = "script"

        def act(self, obs, fleet):
            return np.array([[next(commands)]])

    data.begin(roads[0], 0)
    run = RoadRun(roads[0], Scripted(), config, on_step=data.add)
    for _ in range(40):
        run.tick()
    assert not run.done
    d = data.dataset()
    np.testing.assert_allclose(d.action[:, 0], wanted.astype(np.float32))
    np.testing.assert_allclose(d.cte, run.trajectory.cte[:40].astype(np.float32))


# ------------------------------------------------------------------------------- draw
def test_draw_clicks_make_a_road_that_saves_and_drives(tmp_path, capsys):
    out = tmp_path / "roads.json"
    save_roads(out, [Road.from_points([[0, 0], [50, 0]], 6.0, name="kept")])
    app = DrawApp(out, size=(800, 600))
    assert app.name == "drawn/0"
    app.run(1, pace=False)
    pts = [(150, 400), (300, 250), (450, 400), (600, 250)]
    for p in pts:
        click(p)
    app.run(1, pace=False)
    assert len(app.points) == 4
    road = app.road()
    assert road is not None and road.length > 150
    # the road passes through the clicked points
    for p in pts:
        world = np.array(app.to_world(p))
        assert np.min(np.hypot(*(road.points - world).T)) < 0.5
    np.testing.assert_allclose(app.to_screen(app.to_world((150, 400))), (150.5, 400.5))
    click((700, 100), button=3)  # right click: take the last point back
    key(pg.K_RIGHTBRACKET)
    key(pg.K_RIGHTBRACKET)
    app.run(1, pace=False)
    assert len(app.points) == 3
    assert app.width == 8.0
    # a drag places points along the way
    pg.event.post(pg.event.Event(pg.MOUSEBUTTONDOWN, button=1, pos=(600, 250)))
    for x in range(600, 760, 4):
        pg.event.post(pg.event.Event(pg.MOUSEMOTION, pos=(x, 250 + (x - 600) // 2), rel=(4, 2), buttons=(1, 0, 0)))
    pg.event.post(pg.event.Event(pg.MOUSEBUTTONUP, button=1, pos=(760, 330)))
    app.run(1, pace=False)
    n = len(app.points)
    assert 4 + 4 <= n <= 4 + 8, n
    frame = frame_array(app.draw())
    assert has_colour(frame, [rendering.ASPHALT_COLOUR]) > 1000
    key(pg.K_s)
    app.run(1, pace=False)
    roads = {r.name: r for r in load_roads(out)}
    assert set(roads) == {"kept", "drawn/0"} and roads["drawn/0"].width == 8.0
    assert app.saved

    key(pg.K_RETURN)  # the expert (no --policy) goes down the road at once
    app.run(40, pace=False)
    assert app.drive is not None
    run = app.drive.panels[0].run
    assert run.road.name == "drawn/0" and len(run.trajectory) > 5
    assert frame_array(app.draw()).shape == (600, 800, 3)
    key(pg.K_ESCAPE)
    app.run(1, pace=False)
    assert app.drive is None and app.running, "esc comes back to drawing"

    key(pg.K_o)  # a loop, not saved yet: closing the window saves it
    key(pg.K_BACKSPACE)
    app.run(1, pace=False)
    assert app.closed and len(app.points) == n - 1 and not app.saved
    # this loop's closing leg runs within half a width of the zig-zag: refused, and closing says why
    assert app.road() is None
    key(pg.K_s)
    app.run(1, pace=False)
    assert "not saved" in app.message and "runs onto itself" in app.message
    pg.event.post(pg.event.Event(pg.QUIT))
    app.run(10, pace=False)
    assert not app.running
    app.close()
    assert "drawn/0 not saved" in capsys.readouterr().err
    saved = {r.name: r for r in load_roads(out)}
    assert not saved["drawn/0"].closed  # the last road saved is kept
    # a loop that is clear of itself is saved when the window closes
    app = DrawApp(out, size=(800, 600))
    app.run(1, pace=False)
    for p in [(200, 450), (400, 150), (600, 450)]:
        click(p)
    key(pg.K_o)
    app.run(1, pace=False)
    assert app.closed and app.road() is not None and not app.saved
    pg.event.post(pg.event.Event(pg.QUIT))
    app.run(10, pace=False)
    app.close()
    saved = {r.name: r for r in load_roads(out)}
    assert saved["drawn/1"].closed
    assert DrawApp(out).name == "drawn/2"


def test_draw_survives_panning_away_and_nothing_to_save(tmp_path):
    app = DrawApp(tmp_path / "r.json", size=(400, 300))
    key(pg.K_s)
    key(pg.K_RETURN)
    app.run(1, pace=False)
    assert app.drive is None and "point" in app.message
    click((100, 100))
    click((300, 200))
    for _ in range(200):
        key(pg.K_UP)
    app.run(1, pace=False)
    assert app.centre[1] > 1000
    frame = frame_array(app.draw())
    assert has_colour(frame, [rendering.ASPHALT_COLOUR]) == 0, "the road is far off screen"
    for _ in range(30):
        pg.event.post(pg.event.Event(pg.MOUSEWHEEL, x=0, y=-1, flipped=False, precise_x=0.0, precise_y=-1.0))
    resize((20, 20))
    app.run(2, pace=False)
    app.close()
    assert load_roads(tmp_path / "r.json")[0].name == "drawn/0"


def test_draw_sends_the_learner_with_the_expert_alongside(tmp_path, random_policy):
    learner = PolicyDriver(SteeringPolicy.load(random_policy))
    app = DrawApp(tmp_path / "r.json", learner, "features", "learner", size=SMALL)
    for p in [(100, 200), (300, 150), (500, 200)]:
        click(p)
    key(pg.K_e)  # the expert first: no ghost
    app.run(10, pace=False)
    assert app.drive.panels[0].run.ghost is None and app.drive.label == "expert"
    key(pg.K_ESCAPE)
    key(pg.K_RETURN)
    app.run(10, pace=False)
    run = app.drive.panels[0].run
    assert run.driver is learner and run.ghost is not None and len(run.ghost) == len(run.trajectory)
    key(pg.K_q)
    app.run(5, pace=False)
    assert not app.running
    app.close()


def test_smooth_centreline_goes_through_the_points():
    pts = np.array([[0, 0], [20, 10], [40, -5], [60, 0.0]])
    line = smooth_centreline(pts, closed=False)
    for p in pts:
        assert np.min(np.hypot(*(line - p).T)) < 1e-9
    steps = np.hypot(*np.diff(line, axis=0).T)
    assert steps.max() < 0.6
    loop = smooth_centreline(pts, closed=True)
    assert np.hypot(*(loop[-1] - loop[0])) < 1.0


# ----------------------------------------------------------------------------- replay
def test_replay_keys_and_rendering(tmp_path):
    roads = [Road.from_points([[0, 0], [60, 0], [90, 30]], 7.0, name="a"), generate_road("train", "gentle", 0)]
    evaluate_and_save(ExpertDriver(), roads, env_config_for("features"), tmp_path / "eps")
    paths = find_episodes(tmp_path / "eps")
    app = ReplayApp(paths, size=SMALL)
    app.run(30, pace=False)
    assert app.t == 10
    key(pg.K_COMMA)
    key(pg.K_COMMA)
    app.run(1, pace=False)
    assert app.paused and app.t == 8
    key(pg.K_PERIOD)
    key(pg.K_END)
    app.run(1, pace=False)
    assert app.t == app.last_step
    frame = frame_array(app.draw())
    assert has_colour(frame, [(40, 170, 70)]) > 300, "the finished banner at the end"
    key(pg.K_RIGHT)
    app.run(1, pace=False)
    assert app.index == 1 and app.t == 0 and app.track.road.name == "train/gentle/0"
    key(pg.K_END)
    key(pg.K_SPACE)  # go on (a step key paused it)
    hold = round(HOLD_SECONDS / app.track.dt)
    app.run(FRAMES_PER_TICK * (hold - 1), pace=False)
    assert app.index == 1 and app.t == app.last_step, "the end is held"
    app.run(FRAMES_PER_TICK * 2, pace=False)
    assert app.index == 0, "after the last episode (and a hold) the first comes again"
    app.close()

    gif, frames = render_replay(paths[0], tmp_path / "a.gif", size=(480, 270))
    track, _ = load_episode(paths[0])
    assert frames == len(track) + round(HOLD_SECONDS / track.dt)
    image = Image.open(gif)
    assert image.n_frames == frames and image.size == (480, 270) and image.info["duration"] == 50
    png, _ = render_replay(paths[0], tmp_path / "a.png", size=(480, 270), step=3)
    assert Image.open(png).size == (480, 270)
    with pytest.raises(ValueError):
        render_replay(paths[0], tmp_path / "a.bmp")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(EpisodeError):
        load_episode(bad)


# -------------------------------------------------------------------------------- CLI
def test_cli_watch_headless_with_recording(tmp_path, capsys):
    out = tmp_path / "w.gif"
    rc = cli.main(
        [
            "watch",
            "--policy",
            "expert",
            "--split",
            "unseen",
            "--max-frames",
            "30",
            "--size",
            "480x270",
            "--record",
            str(out),
            "--split-view",
        ]
    )
    assert rc == 0
    assert Image.open(out).n_frames == 30 // FRAMES_PER_TICK + 1
    assert "wrote" in capsys.readouterr().out


def test_cli_watch_policy_and_roads_file(tmp_path, random_policy):
    roads_file = tmp_path / "roads.json"
    save_roads(roads_file, [Road.from_points([[0, 0], [20, 0]], 7.0, name="tiny")])
    rc = cli.main(
        [
            "watch",
            "--policy",
            str(random_policy),
            "--roads-file",
            str(roads_file),
            "--roads",
            "1",
            "--time-speed",
            "16",
            "--camera",
            "road",
            "--max-frames",
            "2000",
        ]
    )
    assert rc == 0
    rc = cli.main(["watch", "--policy", "expert", "--roads-file", str(roads_file), "--split-view"])
    assert rc == 2


def test_cli_closed_window_exits_cleanly(tmp_path, capsys):
    pg.event.post(pg.event.Event(pg.QUIT))
    rc = cli.main(["watch", "--policy", "expert", "--record", str(tmp_path / "never.gif"), "--max-frames", "5000"])
    assert rc == 0
    assert "nothing was recorded" in capsys.readouterr().out
    assert not (tmp_path / "never.gif").exists()


def test_cli_play_draw_evaluate_replay(tmp_path, random_policy, capsys):
    data = tmp_path / "me.npz"
    rc = cli.main(["play", "--record", str(data), "--max-frames", "90", "--countdown", "0.5", "--size", "480x270"])
    assert rc == 0 and data.exists()
    rc = cli.main(["draw", "--out", str(tmp_path / "d.json"), "--max-frames", "3", "--policy", str(random_policy)])
    assert rc == 0 and not (tmp_path / "d.json").exists()  # nothing drawn, nothing written
    eps = tmp_path / "eps"
    rc = cli.main(
        [
            "evaluate",
            "--policy",
            str(random_policy),
            "--roads",
            "2",
            "--save-episodes",
            str(eps),
            "--json",
            str(tmp_path / "m.json"),
            "--no-progress",
        ]
    )
    assert rc == 0 and len(find_episodes(eps)) == 2
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert set(metrics["roads"]) == {"train/gentle/0", "train/twisty/1"}
    rc = cli.main(["replay", str(eps), "--max-frames", "20", "--size", "480x270"])
    assert rc == 0
    rc = cli.main(["replay", str(eps), "--episode", "1", "--out", str(tmp_path / "r.png")])
    assert rc == 0 and Image.open(tmp_path / "r.png").size == (1280, 720)
    rc = cli.main(["replay", str(eps), "--out", str(tmp_path / "r.gif"), "--max-frames", "12", "--size", "320x240"])
    assert rc == 0 and Image.open(tmp_path / "r.gif").n_frames == 12
    assert cli.main(["replay", str(tmp_path / "missing")]) == 2
    capsys.readouterr()


# ------------------------------------------------------------------ watch: the dashcam and its saliency
@pytest.fixture(scope="module")
def camera_policy():
    import torch

    from agents.model import Architecture, NetConfig, SteeringNet

    torch.manual_seed(0)
    shape = observation_space(env_config_for("camera")).shape
    return SteeringPolicy(SteeringNet(NetConfig("camera", shape, Architecture(hidden=(16,)))))


def dashcam_pixels(app, frame_shape) -> np.ndarray:
    """The dashcam as drawn in the single panel, one screen pixel per camera pixel (its middle)."""
    from sims.windows.panels import dashcam_rect

    w, h = app.size
    rect = dashcam_rect((w, h - STATUS_BAR_PX), frame_shape)
    zoom = rect.width // frame_shape[1]
    screen = frame_array(app.draw())
    rows = rect.y + zoom * np.arange(frame_shape[0]) + zoom // 2
    cols = rect.x + zoom * np.arange(frame_shape[1]) + zoom // 2
    return screen[np.ix_(rows, cols)]


def test_watch_shows_the_dashcam_and_s_lays_the_saliency_over_it(camera_policy):
    from agents.saliency import occlusion_saliency, overlay
    from sims.windows.keys import SALIENCY
    from sims.windows.watch import SALIENCY_EVERY, SALIENCY_PATCH

    app = WatchApp(PolicyDriver(camera_policy), env_config_for("camera"), RoadList(split="train"), size=(960, 540))
    assert SALIENCY in app.active_keys() and "s saliency" in hints(app.active_keys())
    app.run(4, pace=False)
    key(pg.K_SPACE)
    app.run(1, pace=False)
    frame = app.panels[0].run.obs.copy()
    plain = dashcam_pixels(app, frame.shape)
    np.testing.assert_array_equal(plain, frame)  # the frame the policy sees, blown up
    assert not app.show_saliency
    key(pg.K_s)
    app.run(1, pace=False)
    assert app.show_saliency and app.panels[0].run.obs is not None
    shown = dashcam_pixels(app, frame.shape)
    saliency = occlusion_saliency(camera_policy, frame[None], patch=SALIENCY_PATCH, stride=SALIENCY_PATCH)[0]
    np.testing.assert_array_equal(shown, overlay(frame, saliency))
    change = np.abs(shown.astype(int) - plain.astype(int)).sum(axis=-1)
    high, low = saliency >= np.quantile(saliency, 0.9), saliency <= np.quantile(saliency, 0.1)
    assert change[high].mean() > 3 * max(change[low].mean(), 1.0), "the overlay is strongest where covering matters"
    assert any("saliency" in text for text, _ in app.state_labels())

    # maps are made again only every SALIENCY_EVERY steps, not every frame
    made = app._saliency[app.panels[0]].maps_made
    for _ in range(SALIENCY_EVERY - 1):
        key(pg.K_PERIOD)
        app.run(1, pace=False)
    assert app._saliency[app.panels[0]].maps_made == made
    key(pg.K_PERIOD)
    app.run(1, pace=False)
    assert app._saliency[app.panels[0]].maps_made == made + 1 or app.panels[0].run.done
    key(pg.K_s)
    app.run(1, pace=False)
    assert not app.show_saliency
    np.testing.assert_array_equal(dashcam_pixels(app, frame.shape), app.panels[0].run.obs)
    app.close()


def test_watch_without_a_camera_policy_has_no_dashcam_and_no_saliency_key():
    from sims.windows.keys import SALIENCY

    app = watch()
    assert SALIENCY not in app.active_keys() and not app.dashcam
    key(pg.K_s)
    app.run(1, pace=False)
    assert not app.show_saliency
    app.close()
