"""The ``roadschool`` command, its windows, reports, plots, videos and experiments."""

import os

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # modules of sims import pygame: without its banner
