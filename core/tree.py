"""Minimal pytrees over (named) tuples, so optimizer state can be stored, restored and sliced.

A tree is a leaf (an ndarray, int or float) or a tuple/NamedTuple of trees. The structure of an
optimizer's state is fixed by its configuration, so ``init`` gives the template that
``tree_unflatten`` refills from stored leaves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def tree_leaves(tree: Any) -> list[Any]:
    """The leaves of ``tree`` in depth-first order."""
    if not isinstance(tree, tuple):
        return [tree]
    leaves: list[Any] = []
    _collect(tree, leaves)
    return leaves


def _collect(node: tuple[Any, ...], leaves: list[Any]) -> None:
    # Appending to one list: nested generators would pass every leaf up through each level,
    # and a session step walks its optimizer state several times.
    for child in node:
        if isinstance(child, tuple):
            _collect(child, leaves)
        else:
            leaves.append(child)


def tree_map(fn: Callable[[Any], Any], tree: T) -> T:
    """A tree of the same structure with ``fn`` applied to every leaf."""
    result: T = _map(fn, tree)
    return result


def _map(fn: Callable[[Any], Any], node: Any) -> Any:
    if not isinstance(node, tuple):
        return fn(node)
    return _remake(node, [_map(fn, child) for child in node])


def tree_unflatten(template: T, leaves: list[Any]) -> T:
    """A tree shaped like ``template`` holding ``leaves`` in depth-first order."""
    count = len(tree_leaves(template))
    if count != len(leaves):
        raise ValueError(f"state has {len(leaves)} leaves, expected {count}")
    result: T = _rebuild(template, iter(leaves))
    return result


def _rebuild(node: Any, leaves: Iterator[Any]) -> Any:
    if isinstance(node, tuple):
        return _remake(node, [_rebuild(child, leaves) for child in node])
    return next(leaves)


def _remake(node: tuple[Any, ...], children: list[Any]) -> tuple[Any, ...]:
    """A tuple of ``node``'s type (a NamedTuple's own, or a plain tuple) holding ``children``."""
    make = getattr(node, "_make", None)
    return tuple(children) if make is None else make(children)
