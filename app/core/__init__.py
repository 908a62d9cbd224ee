"""Small shared pieces: clock, text cleaning, reference data."""
