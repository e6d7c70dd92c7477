"""One measurement per process: ``python -m bench.workers KIND SYSTEM '{json args}'``.

Each worker connects and warms up its client untimed, measures, and prints one JSON object as
its last line of output. Running every measurement in a fresh process keeps the systems from
disturbing each other (threads, memory, GIL). ``sync`` holds the plain writes, reads, latency and
memory; ``aio`` the asyncio ones and message_read_many; ``scaling`` those of the scalings;
``common`` what they share; ``__main__`` runs one.
"""
