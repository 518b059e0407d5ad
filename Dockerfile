FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PAPERBOY_DATABASE__PATH=/data/paperboy.db

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip install . \
    && useradd --create-home --uid 10001 paperboy \
    && mkdir /data && chown paperboy:paperboy /data

USER paperboy
VOLUME ["/data"]
# Run from the volume so /data/config.toml is picked up when present (else defaults and environment).
WORKDIR /data

HEALTHCHECK --interval=5m --timeout=30s --start-period=1m CMD ["paperboy", "db", "check"]

ENTRYPOINT ["paperboy"]
CMD ["run"]
