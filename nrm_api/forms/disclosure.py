"""The disclosure policy: one data file, read by one function."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any

import yaml

from ..fields import PUBLIC
from .rules import sealed_paths


@cache
def _policy() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(
        resources.files(__package__).joinpath("disclosure.yaml").read_text(encoding="utf-8"))
    return loaded


def visible_classes(*, is_author: bool, kind: str | None = None, purpose: str | None = None,
                    services: Iterable[str] = ()) -> frozenset[str]:
    """The sensitivity classes a reader may see: everything for the author, else by kind, purpose and services."""
    policy = _policy()
    if is_author:
        return frozenset(policy["author"])
    allowed = frozenset(policy["by_kind"].get(kind or "", {}).get(purpose or "", [PUBLIC]))
    if purpose != "assistance":
        return allowed
    needed = {PUBLIC}.union(*(policy["services"].get(service, [PUBLIC]) for service in services))
    return allowed & needed


def withheld_paths(classes: frozenset[str]) -> list[str]:
    """The sealed fields a reader with ``classes`` does not see."""
    return sorted(path for path, sensitivity in sealed_paths().items() if sensitivity not in classes)
