"""Search service (placeholder interface until the whoosh index lands)."""


def index_health() -> str:
    return "ok"


def after_commit_hook() -> None:
    """Drain the index outbox (placeholder until the whoosh index lands)."""
