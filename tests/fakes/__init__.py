"""Fakes of the services the gateway talks to, for tests."""
