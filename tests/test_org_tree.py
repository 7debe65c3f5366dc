"""The organisation tree's arithmetic (storage/org_tree.py): roll-up level by level, each unit once even
through a loop of parents a hand-edited database could hold, and what a view lists."""

from __future__ import annotations

from storage import org_tree


def add_up(own: int, children: list[int]) -> int:
    return own + sum(children)


def test_figures_roll_up_level_by_level_and_a_parent_outside_the_scope_makes_a_top_unit() -> None:
    parents = {1: None, 2: 1, 3: 1, 4: 2, 5: 2, 6: 99}  # 6's parent is not in scope
    own = {1: 1, 2: 10, 3: 100, 4: 1000, 5: 10000, 6: 7}
    assert org_tree.roll_up(own, parents, add_up) == {1: 11111, 2: 11010, 3: 100, 4: 1000, 5: 10000, 6: 7}
    assert org_tree.below(2, parents) == {2, 4, 5}
    assert org_tree.top_units([6, 5, 1, 2], parents) == [6, 1], "in the order given"


def test_a_loop_of_parents_still_counts_every_unit_once() -> None:
    parents = {1: 2, 2: 1, 3: 1}  # 1 and 2 under each other: refused by the import, possible by hand
    rolled = org_tree.roll_up({1: 1, 2: 10, 3: 100}, parents, add_up)
    assert set(rolled) == {1, 2, 3} and rolled[3] == 100
    assert max(rolled.values()) == 111, "the loop's first unit holds all three, each once"


def test_a_view_lists_one_level() -> None:
    parents = {1: None, 2: 1, 3: 1, 4: 2}
    assert org_tree.layout([1, 2, 3, 4], parents) == org_tree.Layout([2, 3], [1], 1), "one root: its children"
    assert org_tree.layout([1, 2, 3, 4], parents, focus=2) == org_tree.Layout([4], [2], 2)
    assert org_tree.layout([1, 2, 3, 4], parents, focus=3) == org_tree.Layout([3], [3], 3), "a leaf alone"
    flat = {7: None, 8: None}
    assert org_tree.layout([7, 8], flat) == org_tree.Layout([7, 8], [7, 8], None), "a flat list side by side"
