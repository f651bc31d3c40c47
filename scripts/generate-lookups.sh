#!/usr/bin/env bash
# Regenerates nlu/data/generated_lookups.yml from the knowledge base (make does this when needed).
cd "$(dirname "$0")/.." && .venv/bin/concilia kb lookups --out nlu/data/generated_lookups.yml
