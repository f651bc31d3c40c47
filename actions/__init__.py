"""Rasa custom actions for Concilia. rasa_sdk registers every Action subclass found in this package.

Answers are built only from the knowledge base (knowledge/), through actions/kb.py.
"""
