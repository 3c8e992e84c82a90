"""Ingestion: reading a corpus (folders of HTML, PDF, DOCX and text documents; JSONL) into articles,
and cleaning site boilerplate."""
