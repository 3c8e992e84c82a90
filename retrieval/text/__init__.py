"""Text: normalization, sentence and word segmentation, the term functions shared by index and questions,
and the kinds of things a sentence names."""
