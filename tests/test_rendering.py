"""Tests of envs/rendering.py: the picture must match the state it shows."""

import os

os.environ["SDL_VIDEODRIVER"] = "dummy"  # before anything imports pygame

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from envs import rendering
from envs.rendering import CarPose, RoadRenderer
from envs.road import Road

PROJECT_ROOT = Path(__file__).resolve().parents[1]
NO_TRAIL = (np.zeros((0, 2)), np.zeros(0))


@pytest.fixture
def straight_road() -> Road:
    return Road.from_points([[0, 0], [200, 0]], 7.0)


@pytest.fixture
def curvy_road() -> Road:
    x = np.linspace(0.0, 300.0, 400)
    return Road.from_points(np.column_stack([x, 30.0 * np.sin(x / 30.0)]), 7.0)


CAR_TOP_COLOURS = (
    rendering.CAR_COLOUR,
    rendering.CAR_OUTLINE_COLOUR,
    rendering.WINDSCREEN_COLOUR,
    rendering.HEADLIGHT_COLOUR,
)


def pixels_of(frame: np.ndarray, *colours) -> np.ndarray:
    """``(k, 2)`` (x, y) screen coordinates of the centres of the pixels that have exactly one of ``colours``."""
    hit = np.zeros(frame.shape[:2], dtype=bool)
    for colour in colours:
        hit |= np.all(frame == np.array(colour, dtype=np.uint8), axis=-1)
    ys, xs = np.nonzero(hit)
    return np.column_stack([xs, ys]).astype(np.float64) + 0.5


@pytest.mark.parametrize("camera", ["follow", "road"])
def test_frame_shape_and_dtype(curvy_road, camera):
    renderer = RoadRenderer(320, 240, camera=camera)
    frame = renderer.render(curvy_road, CarPose(50.0, 0.0, 0.0), *NO_TRAIL, {"speed": "1 m/s"})
    assert frame.shape == (240, 320, 3)
    assert frame.dtype == np.uint8
    renderer.close()


@pytest.mark.parametrize("camera", ["follow", "road"])
def test_different_positions_give_different_frames(curvy_road, camera):
    renderer = RoadRenderer(camera=camera)
    a = renderer.render(curvy_road, CarPose(50.0, 0.0, 0.0), *NO_TRAIL, {}).copy()
    b = renderer.render(curvy_road, CarPose(150.0, 5.0, 1.0), *NO_TRAIL, {})
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("camera", ["follow", "road"])
@pytest.mark.parametrize("heading", [0.0, 0.3, math.pi / 2, 2.5, -math.pi / 2])
def test_car_is_drawn_where_it_is(straight_road, camera, heading):
    car = CarPose(60.0, 1.0, heading, steer=0.3)
    renderer = RoadRenderer(camera=camera)
    frame = renderer.render(straight_road, car, *NO_TRAIL, {"step": "0"})
    assert len(pixels_of(frame, rendering.CAR_COLOUR)) > 20
    body = pixels_of(frame, *CAR_TOP_COLOURS)  # the body with the windscreen and lamps on it
    centre = renderer.world_to_screen(car.body_centre)
    assert np.linalg.norm(body.mean(axis=0) - centre) < 1.5


@pytest.mark.parametrize("heading", [0.0, 0.7, math.pi / 2, math.pi, -2.0])
def test_car_points_where_it_heads(straight_road, heading):
    """The windscreen sits ahead of the body centre, along the heading (screen y is down)."""
    renderer = RoadRenderer(camera="follow")
    frame = renderer.render(straight_road, CarPose(60.0, 0.0, heading), *NO_TRAIL, {})
    body = pixels_of(frame, rendering.CAR_COLOUR).mean(axis=0)
    windscreen = pixels_of(frame, rendering.WINDSCREEN_COLOUR).mean(axis=0)
    forward = windscreen - body
    expected = np.array([math.cos(heading), -math.sin(heading)])
    assert forward @ expected > 0.9 * np.linalg.norm(forward)


def test_long_axis_follows_heading(straight_road):
    renderer = RoadRenderer(camera="follow")
    up = pixels_of(renderer.render(straight_road, CarPose(60.0, 0.0, math.pi / 2), *NO_TRAIL, {}), rendering.CAR_COLOUR)
    assert up[:, 1].std() > 1.5 * up[:, 0].std()
    along = pixels_of(renderer.render(straight_road, CarPose(60.0, 0.0, 0.0), *NO_TRAIL, {}), rendering.CAR_COLOUR)
    assert along[:, 0].std() > 1.5 * along[:, 1].std()


@pytest.mark.parametrize("camera", ["follow", "road"])
def test_road_surface_is_where_world_to_screen_says(curvy_road, camera):
    renderer = RoadRenderer(camera=camera)
    car = CarPose(100.0, 30.0 * math.sin(100.0 / 30.0), 0.0)
    frame = renderer.render(curvy_road, car, *NO_TRAIL, {})
    left, _ = curvy_road.edges()
    for x in (75.0, 90.0, 120.0):  # in view, on the road, away from the car and the centreline dashes
        i = int(np.argmin(np.abs(curvy_road.points[:, 0] - x)))
        on_road = 0.5 * (curvy_road.points[i] + left[i])
        x, y = np.floor(renderer.world_to_screen(on_road)).astype(int)
        assert 0 <= x < 600 and 0 <= y < 600
        assert tuple(frame[y, x]) == rendering.ASPHALT_COLOUR
    x, y = np.rint(renderer.world_to_screen([100.0, 30.0 * math.sin(100.0 / 30.0) + 15.0])).astype(int)
    assert tuple(frame[y, x]) == rendering.GRASS_COLOUR


def trail_pixel_colours(abs_cte: float) -> np.ndarray:
    """The 3x3 pixels at the middle of a straight trail with constant |cte|."""
    road = Road.from_points([[0, 0], [200, 0]], 7.0)
    renderer = RoadRenderer(camera="follow")
    xs = np.linspace(70.0, 90.0, 41)
    trail = np.column_stack([xs, np.full_like(xs, 1.5)])
    frame = renderer.render(road, CarPose(100.0, 0.0, 0.0), trail, np.full_like(xs, abs_cte), {})
    x, y = np.rint(renderer.world_to_screen([80.0, 1.5])).astype(int)
    return frame[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3).astype(int)


def test_trail_on_the_centreline_is_green():
    rgb = trail_pixel_colours(0.0)
    green = (rgb[:, 1] > rgb[:, 0] + 60) & (rgb[:, 1] > rgb[:, 2] + 60)
    assert green.sum() >= 3


def test_trail_at_the_road_edge_is_red():
    rgb = trail_pixel_colours(3.5)  # half of the 7 m width
    red = (rgb[:, 0] > rgb[:, 1] + 60) & (rgb[:, 0] > rgb[:, 2] + 60)
    assert red.sum() >= 3


@pytest.mark.parametrize("n_points", [0, 1, 2])
def test_short_trails(straight_road, n_points):
    renderer = RoadRenderer()
    trail = np.column_stack([np.linspace(55.0, 58.0, n_points), np.zeros(n_points)])
    frame = renderer.render(straight_road, CarPose(60.0, 0.0, 0.0), trail, np.zeros(n_points), {})
    assert frame.shape == (600, 600, 3)


def test_mismatched_trail_is_an_error(straight_road):
    with pytest.raises(ValueError, match="trail"):
        RoadRenderer().render(straight_road, CarPose(60.0, 0.0, 0.0), np.zeros((3, 2)), np.zeros(2), {})


def test_ghost_is_drawn_and_the_car_stays_on_top(straight_road):
    renderer = RoadRenderer()
    car = CarPose(60.0, 0.0, 0.0)
    plain = renderer.render(straight_road, car, *NO_TRAIL, {}).copy()
    with_ghost = renderer.render(straight_road, car, *NO_TRAIL, {}, ghost=CarPose(60.5, 0.5, 0.1))
    assert not np.array_equal(plain, with_ghost)
    assert len(pixels_of(with_ghost, rendering.GHOST_COLOUR)) > 20
    # the car is drawn over the ghost's body: only the ghost's thin outline crosses it
    car_pixels = len(pixels_of(plain, rendering.CAR_COLOUR))
    assert len(pixels_of(with_ghost, rendering.CAR_COLOUR)) > 0.75 * car_pixels


@pytest.mark.parametrize("camera", ["follow", "road"])
@pytest.mark.parametrize("offset", [(0.0, 0.0, 0.0), (0.3, 0.1, 0.02)])
def test_a_ghost_right_under_the_car_is_still_seen(straight_road, camera, offset):
    """The expert's ghost often drives exactly where the learner does: its outline is drawn over the car."""
    renderer = RoadRenderer(camera=camera)
    car = CarPose(60.0, 0.0, 0.0)
    ghost = CarPose(60.0 + offset[0], offset[1], offset[2])
    frame = renderer.render(straight_road, car, *NO_TRAIL, {}, ghost=ghost)
    body = pixels_of(renderer.render(straight_road, car, *NO_TRAIL, {}), *CAR_TOP_COLOURS)
    lo, hi = body.min(axis=0) - 1, body.max(axis=0) + 1  # the car's box on screen
    seen = pixels_of(frame, rendering.GHOST_COLOUR)
    inside = seen[np.all((seen >= lo) & (seen <= hi), axis=1)]
    perimeter = 2 * np.sum(hi - lo)
    assert len(inside) > 0.5 * perimeter, (
        f"only {len(inside)} ghost pixels show on a car of perimeter {perimeter:.0f} px"
    )


def test_camera_can_be_switched_between_frames(curvy_road):
    renderer = RoadRenderer(camera="follow")
    car = CarPose(100.0, 0.0, 0.0)
    follow = renderer.render(curvy_road, car, *NO_TRAIL, {}).copy()
    renderer.camera = "road"
    whole = renderer.render(curvy_road, car, *NO_TRAIL, {}).copy()
    renderer.camera = "follow"
    again = renderer.render(curvy_road, car, *NO_TRAIL, {})
    assert not np.array_equal(follow, whole)
    assert np.array_equal(follow, again)
    with pytest.raises(ValueError, match="camera"):
        renderer.camera = "orbit"


def test_new_road_object_rebuilds_the_background(straight_road):
    renderer = RoadRenderer(camera="road")
    car = CarPose(60.0, 0.0, 0.0)
    narrow = renderer.render(straight_road, car, *NO_TRAIL, {}).copy()
    wide = renderer.render(straight_road.with_width(12.0), car, *NO_TRAIL, {})
    assert (pixels_of(wide, rendering.ASPHALT_COLOUR).shape[0]) > (pixels_of(narrow, rendering.ASPHALT_COLOUR).shape[0])


def test_closed_road_draws_its_closing_segment():
    square = Road.from_points([[0, 0], [100, 0], [100, 100], [0, 100]], 7.0, closed=True)
    renderer = RoadRenderer(camera="road")
    frame = renderer.render(square, CarPose(50.0, 0.0, 0.0), *NO_TRAIL, {})
    x, y = np.rint(renderer.world_to_screen([1.5, 50.0])).astype(int)  # the side from (0, 100) back to (0, 0)
    assert tuple(frame[y, x]) == rendering.ASPHALT_COLOUR


def test_car_off_screen_in_road_camera(straight_road):
    renderer = RoadRenderer(camera="road")
    frame = renderer.render(straight_road, CarPose(5000.0, 300.0, 0.0), *NO_TRAIL, {}, ghost=CarPose(-900.0, 0.0, 1.0))
    assert len(pixels_of(frame, rendering.CAR_COLOUR)) == 0


def test_follow_camera_on_a_road_larger_than_its_cache():
    """A 12 km road: the road tiles are drawn near the car and the cache stays bounded."""
    long_road = Road.from_points([[0, 0], [12_000, 0]], 7.0, spacing=2.0)
    renderer = RoadRenderer(camera="follow")
    for x in np.arange(0.0, 12_000.0, 40.0):
        frame = renderer.render(long_road, CarPose(x, 0.0, 0.0), *NO_TRAIL, {})
    i, j = np.rint(renderer.world_to_screen([x - 20.0, 2.0])).astype(int)
    assert tuple(frame[j, i]) == rendering.ASPHALT_COLOUR
    background = renderer._follow[1]
    assert len(background.tiles) <= background.max_tiles


def test_world_to_screen_keeps_the_leading_shape(straight_road):
    renderer = RoadRenderer()
    with pytest.raises(RuntimeError):
        renderer.world_to_screen([0.0, 0.0])
    renderer.render(straight_road, CarPose(60.0, 0.0, 0.0), *NO_TRAIL, {})
    assert renderer.world_to_screen(np.zeros((4, 3, 2))).shape == (4, 3, 2)
    a, b = renderer.world_to_screen([[60.0, 0.0], [61.0, 1.0]])
    assert b[0] - a[0] == pytest.approx(8.0) and b[1] - a[1] == pytest.approx(-8.0)  # y up in the world, down on screen


def test_importing_rendering_does_not_import_pygame():
    out = subprocess.run(
        [sys.executable, "-c", "import envs.rendering, sys; print('pygame' in sys.modules)"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "False"


def test_human_mode_works_headless(straight_road):
    renderer = RoadRenderer(200, 150, render_mode="human", fps=1000)
    hud = {"speed": "3.0 m/s"}
    assert renderer.render(straight_road, CarPose(60.0, 0.0, 0.0), *NO_TRAIL, hud) is None
    assert renderer.render(straight_road, CarPose(61.0, 0.0, 0.0), *NO_TRAIL, hud) is None
    renderer.close()
    renderer.close()  # closing twice is harmless


def test_bad_arguments():
    with pytest.raises(ValueError, match="render_mode"):
        RoadRenderer(render_mode="ansi")
    with pytest.raises(ValueError, match="camera"):
        RoadRenderer(camera="top")


# ------------------------------------------------------------ surfaces, skid marks, velocity
def test_surfaces_are_drawn_where_they_are(straight_road):
    road = straight_road.with_surfaces([(40.0, 80.0, "ice"), (80.0, 120.0, "wet")])
    renderer = RoadRenderer(camera="road")
    frame = renderer.render(road, CarPose(10.0, 0.0, 0.0), *NO_TRAIL, {})
    for surface, (start, end) in (("ice", (40, 80)), ("wet", (80, 120))):
        xs = pixels_of(frame, rendering.SURFACE_COLOURS[surface])[:, 0]
        lo, hi = renderer.world_to_screen(np.array([[start, 0.0], [end, 0.0]]))[:, 0]
        assert len(xs) > 100, surface
        assert lo - 3 <= xs.min() and xs.max() <= hi + 3, surface  # only over its section
    dry = pixels_of(frame, rendering.SURFACE_COLOURS["dry"])[:, 0]
    lo, hi = renderer.world_to_screen(np.array([[40.0, 0.0], [120.0, 0.0]]))[:, 0]
    assert len(dry) > 100 and not np.any((dry > lo + 3) & (dry < hi - 3))


def test_skid_marks_follow_the_trail_only_where_the_tyres_slid(straight_road):
    renderer = RoadRenderer(camera="road")
    trail = np.column_stack([np.linspace(0.0, 100.0, 101), np.zeros(101)])
    sliding = (trail[:, 0] >= 50.0) & (trail[:, 0] <= 80.0)
    frame = renderer.render(straight_road, CarPose(120.0, 0.0, 0.0), trail, np.zeros(101), {}, trail_sliding=sliding)
    marks = pixels_of(frame, rendering.SKID_COLOUR)
    lo, hi = renderer.world_to_screen(np.array([[50.0, 0.0], [80.0, 0.0]]))[:, 0]
    assert len(marks) > 20
    assert lo - 3 <= marks[:, 0].min() and marks[:, 0].max() <= hi + 3
    plain = renderer.render(straight_road, CarPose(120.0, 0.0, 0.0), trail, np.zeros(101), {})
    assert len(pixels_of(plain, rendering.SKID_COLOUR)) == 0


def test_the_velocity_arrow_points_where_the_car_moves(straight_road):
    renderer = RoadRenderer(camera="follow")
    car = CarPose(60.0, 0.0, 0.0, velocity=(0.0, 15.0))  # pointing along +x, sliding sideways to +y
    frame = renderer.render(straight_road, car, *NO_TRAIL, {})
    arrow = pixels_of(frame, rendering.VELOCITY_COLOUR)
    centre = renderer.world_to_screen(car.body_centre)
    assert len(arrow) > 20
    assert np.all(arrow[:, 1] <= centre[1] + 3)  # up the screen is +y
    assert np.ptp(arrow[:, 0]) < np.ptp(arrow[:, 1])


def test_frames_still_render_after_pygame_quit(straight_road):
    """gymnasium.utils.play.play ends with pygame.quit(), which invalidates fonts made before it."""
    import pygame

    hud = {"speed": "10 m/s"}
    before = RoadRenderer(camera="road").render(straight_road, CarPose(20.0, 0.0, 0.0), *NO_TRAIL, hud).copy()
    pygame.quit()
    after = RoadRenderer(camera="road").render(straight_road, CarPose(20.0, 0.0, 0.0), *NO_TRAIL, hud)
    assert np.array_equal(before, after)


def test_the_hud_is_where_hud_box_measures_it():
    """The windows lay out around the HUD with ``hud_box``: it must be the box the renderer draws."""
    import pygame

    for hud in ({"speed": "10.00 m/s"}, {"road": "unseen/twisty/3", "mean |cte|": "  0.12 m", "x": "y" * 40}):
        surface = pygame.Surface((640, 400))
        surface.fill((200, 200, 200))
        RoadRenderer().draw_hud(surface, hud)
        pixels = np.frombuffer(pygame.image.tobytes(surface, "RGB"), dtype=np.uint8).reshape(400, 640, 3)
        ys, xs = np.nonzero(np.any(pixels != 200, axis=-1))
        x, y, w, h = rendering.hud_box(hud)
        assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (x, y, x + w, y + h)
    assert rendering.hud_box({}) == (0, 0, 0, 0)


def test_one_font_cache_for_every_size_and_face():
    assert rendering.font(14) is rendering.font(14)
    assert rendering.font(18, mono=False, bold=True) is not rendering.font(18)
