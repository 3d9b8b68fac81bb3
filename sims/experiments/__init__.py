"""``roadschool experiment``: the questions the tutorial ends with, as runnable experiments.

* ``batching``: full-batch training against minibatches of several sizes.
* ``overfitting``: train on 1 ... 64 roads, test on the same unseen roads.
* ``road-change``: behaviour cloning, DART and DAgger on changed roads and cars.

Each runs a grid of independent, seeded runs in parallel (local processes or
Ray, see :mod:`sims.experiments.grid`) and writes a CSV with one row per run,
PNG figures and a short Markdown summary.
"""
