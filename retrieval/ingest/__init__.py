"""Ingestion: reading a corpus (folders, JSONL) into articles and cleaning site boilerplate."""
