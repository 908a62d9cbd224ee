"""Coalitions: associations on one installation pooling their anonymised figures, and the
public statistics page (`/stats/<slug>`) of an association or a coalition."""
