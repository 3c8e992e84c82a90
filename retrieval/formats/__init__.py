"""Bring your own documents: HTML, PDF, DOCX and plain text files read into one neutral document."""
