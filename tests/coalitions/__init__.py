"""Coalitions: pooled figures and their public statistics pages."""
