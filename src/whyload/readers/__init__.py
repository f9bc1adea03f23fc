"""Readers turn bytes into facts. They never raise on bad bytes: they return what they could read
plus coded problems, and every read is bounded."""
