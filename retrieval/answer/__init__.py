"""Answers: ranked sentences to quotes with citations, or a refusal, and the messages users read."""
