"""The windows of roadschool: ``watch``, ``play``, ``draw`` and ``replay``.

One module per concept:

- :mod:`sims.windows.app`: the app loop (:class:`~sims.windows.app.App`: events in, frames
  out) and :class:`~sims.windows.app.TimedApp`, which plays something in ticks of the env's
  time step, with a time speed, pause, zoom, help and a recording;
- :mod:`sims.windows.keys`: every key binding, declared once with its help text and hint;
- :mod:`sims.windows.panels`: what a panel draws (road, trail, ghost, car, HUD, banner) and
  the window's status bar and help box; :mod:`sims.windows.plot`: the live cte plot;
- :mod:`sims.windows.driving`: roads driven live (:class:`~sims.windows.driving.RoadRun`,
  :class:`~sims.windows.driving.RoadList`, :class:`~sims.windows.driving.DrivePanel`) and
  :class:`~sims.windows.driving.DrivingApp`, the base of the driving windows;
- the windows: :mod:`sims.windows.watch`, :mod:`sims.windows.play`, :mod:`sims.windows.draw`
  and :mod:`sims.windows.replay`.

A window needs pygame, so these modules import it when they are imported (quietly: see
``sims/__init__.py``); the window commands import them when they run, and ``sims.video``
draws its frames with :mod:`sims.windows.panels`.
"""
