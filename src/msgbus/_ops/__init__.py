"""What ``health()``, ``metrics()``, the probes and the collector are made of: the verdicts, the figures,
a reader's progress, and the open buses. Plain data and pure functions: imports nothing else of msgbus.
"""
