"""Named hooks so that later domains (exhibits…) extend earlier ones without import cycles."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

_HOOKS: dict[str, list[Callable]] = defaultdict(list)


def connect(name: str, func: Callable) -> None:
    if func not in _HOOKS[name]:
        _HOOKS[name].append(func)


def run(name: str, **kwargs) -> None:
    for func in _HOOKS[name]:
        func(**kwargs)
