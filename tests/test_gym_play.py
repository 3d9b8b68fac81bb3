"""``gymnasium.utils.play.play`` drives the env with its own key map (no ``keys_to_action`` given)."""

import gymnasium as gym
import numpy as np
import pygame
import pytest
from gymnasium.utils import play as gym_play

import envs  # noqa: F401  (registers the env)
from envs.road_follow import KEY_STEER


def _scripted_events(monkeypatch, script):
    """Replace pygame's event queue: call k of ``pygame.event.get`` returns ``script[k]`` (then QUIT)."""
    calls = {"n": 0}

    def get(*args, **kwargs):
        k = calls["n"]
        calls["n"] += 1
        if k < len(script):
            return script[k]
        return [pygame.event.Event(pygame.QUIT)]

    monkeypatch.setattr(pygame.event, "get", get)


def key(kind, code):
    return pygame.event.Event(kind, key=code)


@pytest.mark.parametrize("throttle", [False, True])
def test_keys_to_action_is_a_valid_play_map(throttle):
    env = gym.make("roadschool/RoadFollow-v0", render_mode="rgb_array", throttle=throttle)
    keys = env.unwrapped.get_keys_to_action()
    assert keys, "an empty key map"
    for combo, action in keys.items():
        assert combo == tuple(sorted(combo)) and combo
        assert action in env.action_space
    assert keys[(pygame.K_LEFT,)][0] == pytest.approx(KEY_STEER)
    assert keys[(pygame.K_RIGHT,)][0] == pytest.approx(-KEY_STEER)
    if throttle:
        assert keys[tuple(sorted((pygame.K_LEFT, pygame.K_UP)))].tolist() == pytest.approx([KEY_STEER, 1.0])
        assert keys[(pygame.K_DOWN,)].tolist() == pytest.approx([0.0, -1.0])
    env.close()


def test_play_runs_without_a_key_map(monkeypatch):
    """Hold left for a few frames, then right, then nothing: the steps get the mapped actions."""
    env = gym.make("roadschool/RoadFollow-v0", render_mode="rgb_array")
    script = (
        [[]]
        + [[key(pygame.KEYDOWN, pygame.K_LEFT)]]
        + [[]] * 3
        + [[key(pygame.KEYUP, pygame.K_LEFT), key(pygame.KEYDOWN, pygame.K_d)]]
        + [[]] * 3
    )
    script += [[key(pygame.KEYUP, pygame.K_d)]] + [[]] * 2
    _scripted_events(monkeypatch, script)
    # play() ends with pygame.quit(), which would invalidate the fonts the renderer keeps for the other tests
    monkeypatch.setattr(pygame, "quit", lambda: None)
    actions, steers = [], []

    def callback(obs, next_obs, action, reward, terminated, truncated, info):
        actions.append(float(np.asarray(action).reshape(-1)[0]))
        steers.append(info["steer"])

    gym_play.play(env, fps=1000, seed=0, callback=callback)
    assert KEY_STEER in actions and -KEY_STEER in actions and 0.0 in actions
    first_right = actions.index(-KEY_STEER)
    assert all(a == KEY_STEER for a in actions[:first_right] if a != 0.0)
    # the car really steered: left (positive wheel angle) while left was held, then back to the right
    assert max(steers[:first_right]) > 0
    assert min(steers[first_right:]) < max(steers[:first_right])
