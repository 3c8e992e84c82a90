"""What the operator sees of the bot: the question log, its report, metrics. One module per concern.

- :mod:`~bot.insights.store`: the SQLite schema, hashed ids, the rows; the report's read-only connection
- :mod:`~bot.insights.log`: the background writer the front ends call (and its off switch)
- :mod:`~bot.insights.report`: the figures of a period, refused questions grouped by topic
- :mod:`~bot.insights.render`: the report as JSON, Vietnamese text, one HTML page, a PNG chart
- :mod:`~bot.insights.metrics`: Prometheus ``/metrics`` and ``/healthz``, JSON-lines logs

None of them is on the answering path: a front end answers the same whether they work or not.
"""
