"""The Telegram front end (``python -m bot telegram``), one module per concern.

- :mod:`~bot.telegram.app`: building the Application, running it, stop signals
- :mod:`~bot.telegram.handlers`: thin typed handlers, registered in order
- :mod:`~bot.telegram.answers`: what a question, a command or a button press gets
- :mod:`~bot.telegram.stats`: ``/stats`` for the administrators (who may ask, what they get)
- :mod:`~bot.telegram.state`: the shared state (``ContextTypes(bot_data=BotState)``) and its caches
- :mod:`~bot.telegram.format`: rendering, pure functions (HTML, splitting, mentions)
- :mod:`~bot.telegram.settings`: the environment (token, Bot API server, webhook secret)
- :mod:`~bot.telegram.redact`: secrets masked in logs, known noise in one line
- :mod:`~bot.telegram.delivery`: sending with bounded retries, never twice
- :mod:`~bot.telegram.journal`: the handled updates, kept across restarts
- :mod:`~bot.telegram.ratelimit`: the per-user limit
"""
