"""Recall: query parsing, candidate generation, the attention ranker, explanations."""
