"""Data rights (issue 7): the retention purge and the per-customer export.

``python -m bot.records purge`` deletes what is past ``SMO_RETENTION_DAYS``; ``python -m bot.records
export`` writes everything held on one customer as one JSON document. Both read the product database
through :mod:`bot.db` and Rasa's tracker store directly (its ``events`` table), so they run with the
servers stopped or running, on SQLite or PostgreSQL alike.
"""
