"""A seeded, randomized history check of msgbus on real brokers (issue 9, "chaos").

A run is planned from ``random.Random(seed)`` alone (``schedule.py``), executed
against a fresh LocalKafka of 1 or 3 nodes (``runner.py``, ``actors.py``), every
acknowledged write, delivery, membership change and fault is recorded
(``record.py``), and the history is checked for anomalies (``check.py``)::

    .venv/bin/python -m tests.chaos --seed 7 --duration 60 --nodes 1 3

Timing differs between runs of one seed; the plan does not.
"""
