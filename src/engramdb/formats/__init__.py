"""Readers for the file formats ``engram import`` understands (JSONL, LoCoMo)."""
