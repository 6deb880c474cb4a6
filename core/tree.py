"""Minimal pytrees over (named) tuples, so optimizer state can be stored, restored and sliced.

A tree is a leaf (an ndarray, int or float) or a tuple/NamedTuple of trees. The structure of an
optimizer's state is fixed by its configuration, so ``init`` gives the template that
``tree_unflatten`` refills from stored leaves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def _is_namedtuple(node: object) -> bool:
    return isinstance(node, tuple) and hasattr(node, "_fields")


def tree_leaves(tree: Any) -> list[Any]:
    """The leaves of ``tree`` in depth-first order."""
    return list(_iter_leaves(tree))


def _iter_leaves(tree: Any) -> Iterator[Any]:
    if isinstance(tree, tuple):
        for child in tree:
            yield from _iter_leaves(child)
    else:
        yield tree


def tree_map(fn: Callable[[Any], Any], tree: T) -> T:
    """A tree of the same structure with ``fn`` applied to every leaf."""
    leaves = iter([fn(leaf) for leaf in _iter_leaves(tree)])
    result: T = _rebuild(tree, leaves)
    return result


def tree_unflatten(template: T, leaves: list[Any]) -> T:
    """A tree shaped like ``template`` holding ``leaves`` in depth-first order."""
    count = sum(1 for _ in _iter_leaves(template))
    if count != len(leaves):
        raise ValueError(f"state has {len(leaves)} leaves, expected {count}")
    result: T = _rebuild(template, iter(leaves))
    return result


def _rebuild(node: Any, leaves: Iterator[Any]) -> Any:
    if isinstance(node, tuple):
        children = [_rebuild(child, leaves) for child in node]
        return type(node)(*children) if _is_namedtuple(node) else tuple(children)
    return next(leaves)
