#!/bin/sh
# Run once by the postgres image on an empty data volume (docker-entrypoint-initdb.d): a user and a
# database for the gateways, another for Rasa's tracker store. Passwords come from the environment.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v gateway_pw="$GATEWAY_DB_PASSWORD" -v rasa_pw="$RASA_DB_PASSWORD" <<'SQL'
CREATE ROLE concilia LOGIN PASSWORD :'gateway_pw';
CREATE DATABASE concilia OWNER concilia;
CREATE ROLE rasa LOGIN PASSWORD :'rasa_pw';
CREATE DATABASE rasa OWNER rasa;
SQL
