"""The index: vocabularies, BM25 fields, the sentence index, its build (with the segmentation cache)
and its saved file."""
