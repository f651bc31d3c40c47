"""Additions loaded by the Rasa server itself (Python 3.10 environment), named by module path in an
endpoints file: see deploy/endpoints.scaleout.yml and docs/deploy.md."""
