"""The assistant: the Rasa client (``rasa``) and the parsing of its answers."""
