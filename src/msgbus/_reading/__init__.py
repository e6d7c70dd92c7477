"""The reader's core: the inbox every reader backend feeds, and the ways the application takes from it.

``ARCHITECTURE.md`` ("The read path") is the map; each module's docstring
states the invariant it keeps.
"""
