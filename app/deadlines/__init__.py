"""Deadlines across cases: the « Échéances » page, `flask deadlines`, e-mail digests and calendar feeds."""
