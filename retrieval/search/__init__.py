"""Search: question analysis, the first stage (numpy and compiled MaxScore) and the re-ranking of its candidates."""
