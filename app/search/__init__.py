"""Full-text search over cases (whoosh): index_case, remove_case, query."""
