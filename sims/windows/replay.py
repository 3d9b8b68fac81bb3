"""``roadschool replay``: saved drives (``sims.episodes``) in a window, step by step, drawn as
``roadschool watch`` draws live ones; or one of them rendered to a GIF (or MP4) at one frame
per step, or to a PNG of one step."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from envs.atomic import atomic_path
from sims.episodes import EpisodeError, load_episode
from sims.recording import open_video
from sims.video import drive_frames
from sims.windows.app import DEFAULT_SIZE, TimedApp
from sims.windows.driving import HOLD_SECONDS
from sims.windows.keys import REPLAY_KEYS
from sims.windows.panels import STATUS_TEXT, PanelPainter, paint_drive


class ReplayApp(TimedApp):
    """``roadschool replay``: saved drives, step by step, drawn as ``roadschool watch`` draws live ones.

    One tick is one step of the episode; at its end the last frame is held for
    ``HOLD_SECONDS`` and then (with ``loop``) the next episode starts.
    """

    title = "roadschool replay"
    help_title = "roadschool replay"
    keys = REPLAY_KEYS

    def __init__(
        self,
        paths: list[Path],
        size: tuple[int, int] = DEFAULT_SIZE,
        camera: str = "follow",
        speed: float = 1.0,
        loop: bool = True,
    ):
        if not paths:
            raise EpisodeError("no episodes to replay")
        self.paths = [Path(p) for p in paths]
        self.loop = loop
        self.goto(0)
        super().__init__(self.track.dt, size, camera, speed)
        self.painter = PanelPainter()

    def goto(self, index: int) -> None:
        self.index = index % len(self.paths)
        self.track, self.ghost = load_episode(self.paths[self.index])
        self.dt = self.track.dt
        self.t = 0
        self._held = 0

    @property
    def last_step(self) -> int:
        return len(self.track) - 1

    def tick(self) -> None:
        """One step forward (at the end: hold, then the next episode)."""
        if self.t < self.last_step:
            self.t += 1
            return
        self._held += 1
        if self.loop and self._held >= int(round(HOLD_SECONDS / self.track.dt)):
            self.goto(self.index + 1)

    def step_back(self) -> None:
        self.paused = True
        self.t, self._held = max(self.t - 1, 0), 0

    def next_episode(self) -> None:
        self.goto(self.index + 1)

    def previous_episode(self) -> None:
        self.goto(self.index - 1)

    def restart(self) -> None:
        self.t, self._held = 0, 0

    def to_end(self) -> None:
        self.t = self.last_step

    def draw_panels(self, canvas, rect) -> None:
        surface = canvas.subsurface(rect)
        paint_drive(self.painter, surface, self.track, self.t, self.ghost, self.options, replay_label(self.track))

    def state_labels(self) -> list[tuple[str, tuple[int, int, int]]]:
        where = [f"episode {self.index + 1}/{len(self.paths)}", f"step {self.t}/{self.last_step}"]
        return [(text, STATUS_TEXT) for text in where] + super().state_labels()


def replay_label(track) -> str:
    return f"{track.driver} (replay)"


def render_replay(
    episode_path,
    out,
    size: tuple[int, int] = DEFAULT_SIZE,
    camera: str | None = None,
    step: int | None = None,
    max_frames: int | None = None,
) -> tuple[Path, int]:
    """Draw a saved drive into a file, as the replay window's panel shows it; return (path, frames).

    ``.png``: the frame of step ``step`` (default: the last), road camera unless
    ``camera`` says otherwise. ``.gif`` / ``.mp4``: one frame per step at the
    env's time step (then the end held for ``HOLD_SECONDS``), follow camera unless
    ``camera`` says otherwise; at most ``max_frames`` frames.
    """
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".png", ".gif", ".mp4"):
        raise ValueError(f"{out}: replay renders to .png, .gif or .mp4")
    track, ghost = load_episode(episode_path)
    camera = camera or ("road" if suffix == ".png" else "follow")
    label = replay_label(track)
    if suffix == ".png":
        t = len(track) - 1 if step is None else min(max(step, 0), len(track) - 1)
        [(frame, _)] = drive_frames(track, ghost, size, camera=camera, driver_label=label, steps=[t])
        with atomic_path(out) as tmp:
            Image.fromarray(frame).save(tmp, format="PNG")
        return out, 1
    writer = open_video(out, size, track.dt)
    try:
        for frame, _ in drive_frames(
            track, ghost, size, camera=camera, max_frames=max_frames, hold_seconds=HOLD_SECONDS, driver_label=label
        ):
            writer.write(frame)
    except BaseException:
        writer.abort()
        raise
    return writer.close(), writer.frames
