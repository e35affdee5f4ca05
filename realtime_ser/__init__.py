"""Streaming real-time speech emotion recognition."""
