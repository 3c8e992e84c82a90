# The Telegram bot with its index built at image build time.
#   docker build -t vn-docqa-bot .
#   docker run --rm --init -e TELEGRAM_BOT_TOKEN=... vn-docqa-bot
# Optional: -e TELEGRAM_BASE_URL=http://<host>:8081/bot for a self-hosted Bot API server.
# The token is only ever passed at run time, never baked into the image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A non-root user with a home (underthesea keeps its data under ~/.underthesea).
RUN groupadd --system --gid 10001 bot \
 && useradd --system --uid 10001 --gid bot --create-home --home-dir /home/bot --shell /usr/sbin/nologin bot

WORKDIR /app

# Code, settings and articles (see .dockerignore for what stays out).
COPY . /app
RUN pip install -c /app/requirements.lock /app \
 && mkdir -p /app/.cache \
 && chown -R bot:bot /app/.cache

USER bot

# Build the index as the user that serves it: config.yaml's cache_dir (.cache,
# relative to /app/config.yaml) stays writable, so a changed corpus or config
# mounted at run time is re-indexed at start instead of failing.
RUN python -m bot index

# Exec form: python is PID 1 and gets SIGTERM from `docker stop` directly: the bot
# stops within telegram.shutdown_grace_seconds (8 s, under docker stop's 10) with exit
# code 0, and answers after the restart what it had fetched but not answered (the
# record is in .cache: mount it as a volume to keep it across containers). `--init` also covers the first
# second of start-up, before the bot installs its signal handlers.
CMD ["python", "-m", "bot", "telegram"]
