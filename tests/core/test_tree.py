from typing import NamedTuple

import numpy as np
import pytest

from core.tree import tree_leaves, tree_map, tree_unflatten


class Inner(NamedTuple):
    steps: int
    mu: np.ndarray


def test_leaves_and_unflatten_round_trip_nested_named_tuples() -> None:
    tree = (Inner(3, np.array([1.0, 2.0])), (), Inner(0, np.zeros(2)))
    leaves = tree_leaves(tree)
    assert [type(leaf) for leaf in leaves] == [int, np.ndarray, int, np.ndarray]
    rebuilt = tree_unflatten(tree, [7, np.array([5.0, 6.0]), 1, np.ones(2)])
    assert isinstance(rebuilt[0], Inner)
    assert rebuilt[0].steps == 7
    np.testing.assert_array_equal(rebuilt[0].mu, [5.0, 6.0])
    assert rebuilt[1] == ()
    assert rebuilt[2].steps == 1


def test_unflatten_refuses_the_wrong_number_of_leaves() -> None:
    with pytest.raises(ValueError, match="2 leaves, expected 4"):
        tree_unflatten((Inner(0, np.zeros(1)), Inner(0, np.zeros(1))), [1, 2])


def test_map_applies_to_every_leaf() -> None:
    doubled = tree_map(lambda leaf: leaf * 2, (Inner(2, np.array([1.0])),))
    assert doubled[0].steps == 4
    np.testing.assert_array_equal(doubled[0].mu, [2.0])
