# Rasa server and action server (one image, two commands). Python 3.10, rasa 3.6 from requirements-rasa.txt.
# Train the model first on the build machine (`make train` writes models/concilia.tar.gz), then, from the
# project root:
#   docker build -f deploy/rasa.Dockerfile -t concilia-rasa .
FROM python:3.10-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_CPP_MIN_LOG_LEVEL=3 \
    RASA_TELEMETRY_ENABLED=false

RUN useradd --create-home --uid 10002 rasa
WORKDIR /app

COPY requirements-rasa.txt ./
RUN pip install -r requirements-rasa.txt

# the actions read the knowledge base; rasa_addons holds the tracker store named in the endpoints file;
# scripts/rasa_server.py is the `rasa` command with the action answers' validator built once
COPY knowledge/ knowledge/
COPY actions/ actions/
COPY rasa_addons/ rasa_addons/
COPY scripts/rasa_server.py scripts/
COPY config.yml credentials.yml endpoints.yml ./
COPY deploy/endpoints.scaleout.yml deploy/
COPY models/concilia.tar.gz models/
RUN chown rasa /app
USER rasa
ENV PYTHONPATH=/app SANIC_HOST=0.0.0.0

EXPOSE 5005 5055
# the command is set by docker-compose.yml: the Rasa server or the action server
CMD ["rasa", "run", "actions", "--actions", "actions", "--port", "5055"]
