# The gateway (`concilia run`): Telegram webhook listener and web chat. Python 3.11, no Rasa inside.
# Built by deploy/docker-compose.yml with the project root as context:
#   docker build -f deploy/gateway.Dockerfile -t concilia-gateway .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 concilia
WORKDIR /app

# the package and its dependencies (pyproject.toml: the "gateway" extra) and the PostgreSQL driver
# (psycopg 3: DATABASE_URL=postgresql+psycopg://...); the knowledge base ships inside the package
COPY pyproject.toml README.md alembic.ini ./
COPY bot/ bot/
COPY knowledge/ knowledge/
COPY actions/ actions/
# the review queue labels messages with the domain's topic intents
COPY nlu/domain.yml nlu/domain.yml
RUN pip install '.[gateway,postgres]'

# the DB-outage spool file lives here: give each gateway its own volume (docs/deploy.md)
RUN mkdir -p /app/var/spool && chown -R concilia /app/var && chmod 700 /app/var/spool
USER concilia

# web chat and Telegram webhook listener; both sit behind the reverse proxy
ENV WEB_HOST=0.0.0.0 WEB_PORT=8080 TELEGRAM_WEBHOOK_LISTEN=0.0.0.0 TELEGRAM_WEBHOOK_PORT=8443 \
    SPOOL_DIR=/app/var/spool
EXPOSE 8080 8443
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"
CMD ["concilia", "run"]
