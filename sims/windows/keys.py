"""Every key binding of the windows, declared once: the keys, how the help box shows them,
what they do, the app method they call and the short hint the status bar shows.

A window lists its bindings in a tuple of :class:`Key`; from that one table come what a key
press calls (:func:`bindings`), the help box (:func:`help_lines`) and the status bar's hints
(:func:`hints`). A binding without a method is one the window handles itself (the mouse,
steering): it is there for the help and the hints.
"""

from __future__ import annotations

from dataclasses import dataclass

import pygame


@dataclass(frozen=True)
class Key:
    """A key binding."""

    keys: tuple[str, ...]
    """pygame's names of the keys (``"space"``, ``"left"``, ``"a"``, ``"[+]"`` ...)."""
    shown: str
    """How the help box names them."""
    does: str
    """What they do, for the help box."""
    method: str | tuple[str, ...] | None = None
    """The app method a press calls: one for all the keys, or one per key (None: the app handles
    these itself)."""
    hint: str | None = None
    """The status bar's short hint (None: in the help box only)."""


def key_name(event) -> str:
    """pygame's name of the pressed key (``"space"``, ``"left"``, ``"a"``, ``"[+]"`` ...)."""
    return pygame.key.name(event.key)


def bindings(keys: tuple[Key, ...]) -> dict[str, str]:
    """Key name -> the method it calls."""
    out = {}
    for k in keys:
        if k.method is not None:
            methods = k.method if isinstance(k.method, tuple) else (k.method,) * len(k.keys)
            out.update(zip(k.keys, methods))
    return out


def help_lines(keys: tuple[Key, ...]) -> list[tuple[str, str]]:
    """``(shown, does)`` for the help box, in the table's order."""
    return [(k.shown, k.does) for k in keys]


def hints(keys: tuple[Key, ...]) -> list[str]:
    """The status bar's hints, in the table's order (the bar shows as many as fit)."""
    return [k.hint for k in keys if k.hint is not None]


# -- bindings the windows share
HELP = Key(("h", "f1"), "h", "this help", "toggle_help", "h help")
QUIT = Key(("q", "escape"), "q or esc", "quit", "quit", "q quit")
PAUSE = Key(("space",), "space", "pause / go on", "toggle_pause", "space pause")
RESTART = Key(("r",), "r", "restart the road", "restart")
GHOST = Key(("g",), "g", "ghost (the expert) on / off", "toggle_ghost", "g ghost")
TRAIL = Key(("t",), "t", "trail on / off", "toggle_trail", "t trail")
CAMERA = Key(("c",), "c", "camera: follow the car / whole road", "toggle_camera", "c camera")
FASTER = Key(("=", "+", "[+]"), "+", "time faster (x2)", "faster", "+/- time")
SLOWER = Key(("-", "[-]"), "-", "time slower (/2)", "slower")
ZOOM = Key((), "mouse wheel", "zoom (follow camera)")
VIEW_KEYS = (GHOST, TRAIL, CAMERA, FASTER, SLOWER)

# -- watch (and the driving windows)
DRIVING_KEYS = (
    HELP,
    PAUSE,
    Key((".", "s"), ". or s", "one step (pauses)", "step_once"),
    Key(("right", "n"), "right or n", "next road", "next_road", "right/left road"),
    Key(("left", "p"), "left or p", "previous road", "previous_road"),
    RESTART,
    *VIEW_KEYS,
    ZOOM,
    QUIT,
)
SPLIT_VIEW = Key(("v",), "v", "split view: a train and an unseen road", "toggle_split", "v split view")
SALIENCY = Key(
    ("s",), "s", "saliency on the dashcam on / off (where covering moves the steering)", "toggle_saliency", "s saliency"
)
# watch steps with "." only: its "s" is the saliency (listed only for a policy that sees the camera)
WATCH_KEYS = (
    HELP,
    PAUSE,
    Key((".",), ".", "one step (pauses)", "step_once"),
    *DRIVING_KEYS[3:-1],
    SPLIT_VIEW,
    SALIENCY,
    QUIT,
)

# -- play: the arrows (and A / D) steer, so roads change with n / p, and a step is "." only
PLAY_KEYS = (
    Key((), "left / right", "steer (or A / D, or a gamepad)", hint="left/right steer"),
    HELP,
    PAUSE,
    Key((".",), ".", "one step (pauses)", "step_once"),
    Key(("n", "page down"), "n", "next road", "next_road", "n/p road"),
    Key(("p", "page up"), "p", "previous road", "previous_road"),
    Key(("r",), "r", "restart the road", "restart", "r restart"),
    *VIEW_KEYS,
    ZOOM,
    QUIT,
)

# -- replay
REPLAY_KEYS = (
    HELP,
    PAUSE,
    Key((".", "s"), ". or s", "one step forward (pauses)", "step_once", ",/. step"),
    Key((",", "b"), ", or b", "one step back (pauses)", "step_back"),
    Key(("right", "n"), "right or n", "next episode", "next_episode", "right/left episode"),
    Key(("left", "p"), "left or p", "previous episode", "previous_episode"),
    Key(("r", "home"), "r", "back to the start", "restart"),
    Key(("end",), "end", "to the end", "to_end"),
    *VIEW_KEYS,
    ZOOM,
    QUIT,
)

# -- draw, and the car it sends down the drawn road (the trial)
BACK_TO_DRAWING = ("escape", "return", "enter", "backspace")
TRIAL_KEYS = (
    Key(BACK_TO_DRAWING, "esc", "back to drawing", hint="esc back to drawing"),
    HELP,
    PAUSE,
    Key((".", "s"), ". or s", "one step (pauses)", "step_once"),
    Key(("r",), "r", "restart the road", "restart", "r restart"),
    *VIEW_KEYS,
    ZOOM,
    Key(("q",), "q", "quit", "quit"),
)
DRAW_KEYS = (
    Key((), "click / drag", "place points (a drag places one every few metres)", hint="click/drag points"),
    Key(("backspace", "z"), "right click or z", "remove the last point", "undo", "right click undo"),
    Key(("[", "]"), "[ and ]", "road narrower / wider", ("narrower", "wider"), "[ ] width"),
    Key(("o",), "o", "open road / closed loop", "toggle_closed", "o loop"),
    Key(("x", "delete"), "x or delete", "remove all points", "clear"),
    Key(("s",), "s", "save the road to the file", "save", "s save"),
    Key(("return", "enter"), "enter", "send the car down the road (esc: back)", "drive_learner", "enter drive"),
    Key(("e",), "e", "send the expert down the road", "drive_expert", "e expert"),
    Key(
        ("up", "down", "left", "right"),
        "arrows, wheel",
        "move the view, zoom",
        ("pan_up", "pan_down", "pan_left", "pan_right"),
    ),
    HELP,
    Key(("q", "escape"), "q or esc", "quit (unsaved changes are saved)", "quit", "q quit"),
)
