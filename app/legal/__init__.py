"""The legal engine: what the facts of a case mean (route, warnings, deadlines) and the
documents that follow from it. Pure functions over plain data; the legal texts live in
app/legal/data/ with their sources, so a lawyer can correct them without code."""
