"""The organisation tree: units under units, to any depth (Tổng LĐLĐ → LĐLĐ tỉnh → CĐ cấp trên cơ sở →
CĐCS → công đoàn bộ phận).

An officer of a unit sees its whole subtree; figures roll up level by level: a unit's counts are its own
initiatives plus its descendants', and its quota is its own when one is set, else the sum of its
children's. A flat list of branches is a forest of roots, each its own subtree: nothing changes for it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Branch

T = TypeVar("T")


async def subtree_ids(session: AsyncSession, roots: Iterable[int]) -> set[int]:
    """The units and every unit below them (one recursive query; UNION stops even on a corrupt cycle)."""
    roots = set(roots)
    if not roots:
        return set()
    tree = select(Branch.id).where(Branch.id.in_(roots)).cte("subtree", recursive=True)
    tree = tree.union(select(Branch.id).join(tree, Branch.parent_id == tree.c.id))
    return set((await session.scalars(select(tree.c.id))).all())


def roll_up(
    own: Mapping[int, T], parent_of: Mapping[int, int | None], combine: Callable[[T, list[T]], T]
) -> dict[int, T]:
    """Each unit's figures combined with its children's rolled-up figures, within the units given (a unit
    whose parent is not among them is a top unit of the set)."""
    children: dict[int, list[int]] = defaultdict(list)
    for unit in own:
        parent = parent_of.get(unit)
        if parent is not None and parent in own:
            children[parent].append(unit)
    rolled: dict[int, T] = {}
    seen: set[int] = set()
    # The top units first; then any unit left (a loop of parents, which the import refuses but a hand-edited
    # database could hold: each unit is still counted, once).
    for top in [*top_units(own, parent_of), *own]:
        if top in seen:
            continue
        stack: list[tuple[int, bool]] = [(top, False)]
        while stack:  # post-order without recursion: a deep tree cannot overflow the stack
            unit, expanded = stack.pop()
            if expanded:
                rolled[unit] = combine(own[unit], [rolled[child] for child in children[unit] if child in rolled])
            elif unit not in seen:
                seen.add(unit)
                stack.append((unit, True))
                stack.extend((child, False) for child in children[unit] if child not in seen)
    return rolled


def below(unit: int, parent_of: Mapping[int, int | None]) -> set[int]:
    """The unit and every unit under it, among those `parent_of` knows."""
    children: dict[int, list[int]] = defaultdict(list)
    for child, parent in parent_of.items():
        if parent is not None:
            children[parent].append(child)
    found, stack = {unit}, [unit]
    while stack:
        for child in children[stack.pop()]:
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def top_units(units: Iterable[int], parent_of: Mapping[int, int | None]) -> list[int]:
    """The units of the set whose parent is outside it: together they hold the whole set, each once (in the
    order given)."""
    ordered = list(units)
    inside = set(ordered)
    return [unit for unit in ordered if parent_of.get(unit) not in inside]


@dataclass(frozen=True)
class Layout:
    """What a progress view lists (`shown`, ranked against each other) and what sums to the whole (`whole`)."""

    shown: list[int]
    whole: list[int]
    focus: int | None  # the unit the view is about, when it is about one


def layout(units: Iterable[int], parent_of: Mapping[int, int | None], focus: int | None = None) -> Layout:
    """A unit's view lists its children; a scope with one top unit is that unit's view; several top units
    (a flat list of branches) are listed side by side. A unit without children is shown alone. The order
    of `units` is kept."""
    units = list(units)
    inside = set(units)
    children: dict[int, list[int]] = defaultdict(list)
    for unit in units:
        parent = parent_of.get(unit)
        if parent is not None and parent in inside:
            children[parent].append(unit)
    if focus is None:
        tops = top_units(units, parent_of)
        if len(tops) != 1:
            return Layout(tops, tops, None)
        focus = tops[0]
    return Layout(children[focus] or [focus], [focus], focus)
