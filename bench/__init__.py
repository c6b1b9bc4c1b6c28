"""The benchmark suite: the service against a tutorial-style FastAPI app and a raw asyncpg app.

Run it with ``make bench``; bench/README.md says what is measured and how to read the results.
"""
