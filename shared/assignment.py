"""Panels of k assessors per subject, as one min-cost flow: selection's interview panels, mentoring's defense panels.

A greedy loop (give each candidate the k least-loaded experts) paints itself into corners: the
last candidates find only conflicted or full experts, and it cannot say whether a better answer
existed. A flow can: it is exact, it fills every panel whenever any assignment does, and a max
flow that falls short comes with a min cut that names the subjects and assessors at fault.

The network, for each subject s and assessor a:

    source --(k - fixed(s))--> s --units--> (s, type) --(1, misfit)--> a --load units--> sink

- no arc joins a subject to a conflicted assessor, nor to one already fixed on its panel;
- s -> (s, type) is one arc per unit: the i-th further member of one type costs MIX * (f + i),
  f the fixed members of that type, so a panel's repeats cost MIX * sum c(c-1)/2 over its type
  counts c, least for the most even spread of types (k=3 over 3 types: one of each; k=4: 2+1+1,
  where "ceil(k/types) free, then a penalty" would take 2+2+0 as well);
- (s, type) -> a costs 1 when a's disciplines lack s's (a misfit), else 0;
- a -> sink has one arc per unit of load, the l-th costing BALANCE * (2l - 1), so the loads cost
  BALANCE * sum(l^2) (minus the fixed loads' constant), up to the assessor's max_load.

Why sum(l^2) balances: the load vectors of the full assignments are the integer points of a base
polyhedron (an M-convex set), and on such a set the minimisers of the sum of squares are exactly
the decreasingly-minimal vectors (Frank and Murota, "Discrete decreasing minimization", 2022):
they minimise the largest load, then the next, and maximise the smallest. By the exchange axiom,
whenever some full assignment keeps every load within [min(max_load, L), min(max_load, L+1)] for
an L, a dec-min one does too; so loads are within one of even wherever capacities and conflicts
allow, and the assessors whose max_load is lower simply sit at it.

The priorities are lexicographic by scale, not by tuning: hard constraints (as capacities) >
balance > type mixing > discipline fit. A flow is optimal iff its residual graph has no
negative cycle, and the difference of two full flows splits into simple residual cycles, so it
is enough that every simple cycle's weighted cost has the sign of its (load, repeats, misfits)
change read lexicographically. On a simple cycle each assessor node (m of them) has two arcs,
so at most 2m pair arcs: misfits change by at most 2m < MIX = 2m + 1. A subject on it has two
arcs; those not next to the source reach assessors through two of their type nodes, so at most
m + 2 subjects and 2(m + 2) type arcs, each costing MIX * [0, k - 1]: repeats and misfits move
the cost by less than MIX * (2(k - 1)(m + 2) + 1) = BALANCE, while a change of the load cost is
a whole multiple of BALANCE. The bound grows with the assessors, not the subjects, which keeps
the cost range, and the cost-scaling solver's phases, small. The largest total cost is bounded
before solving and refused above 2**62, so int64 never overflows.

Ids are sorted before the network is built, so one input gives one answer whatever its order.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from ortools.graph.python import max_flow, min_cost_flow

COST_LIMIT = 2**62
SOURCE, SINK = 0, 1


@dataclass(frozen=True)
class Assessor:
    """An expert (selection) or a panel member (mentoring's defenses)."""

    id: Hashable
    type: str  # "professor" | "researcher" | "principal", or any strings: mixing is over distinct values
    disciplines: frozenset[str]
    max_load: int


@dataclass(frozen=True)
class Subject:
    """A candidate to interview, or a project to defend."""

    id: Hashable
    discipline: str


class Cost(NamedTuple):
    """What the solve minimises, in priority order, fixed members included; previews of one
    instance compare by it as a tuple (lower is better)."""

    load_squares: int  # sum of every assessor's load squared: lower is more even
    repeats: int  # over panels and types, c(c-1)/2 for c members of one type: 0 is fully mixed
    misfits: int  # members without the subject's discipline, over all panels


@dataclass(frozen=True)
class Assignment:
    """The panels, every assessor's load (0 included), and the figures a staff preview shows."""

    panels: dict[Hashable, tuple[Hashable, ...]]
    loads: dict[Hashable, int]
    # The largest load minus the smallest load of an assessor who could still take a subject
    # (below max_load, and some subject they are not conflicted with is not yet theirs); 0 when
    # none could. At most 1 whenever capacities and conflicts allow loads within one of even.
    spread: int
    mixed_panels: int  # panels with min(k, the types available to the subject) distinct types
    fitting_panels: int  # panels whose every member has the subject's discipline
    cost: Cost


class AssignmentInfeasible(Exception):
    """No assignment meets the hard constraints; `constraint` says which, in stable words:

    panel_size                k exceeds the assessors able to serve (max_load > 0), or a subject
                              has more than k fixed members
    capacity                  the max loads add up to fewer than k seats per subject, or an
                              assessor is fixed on more panels than their max_load
    conflicts                 a fixed member is in conflict, or subjects have fewer than k assessors
                              able to serve and free of conflict (the subjects, and those in conflict)
    capacity_after_conflicts  a set of subjects needs more seats than the assessors open to them
                              can give, found from the min cut (those subjects, and the assessors
                              on the cut's source side, all full)

    `message` is English, for a problem's detail.
    """

    def __init__(self, constraint: str, subjects: list[Hashable], assessors: list[Hashable], message: str) -> None:
        super().__init__(message)
        self.constraint = constraint
        self.subjects = subjects
        self.assessors = assessors
        self.message = message


def _ordered(ids: Collection[Hashable]) -> list[Hashable]:
    return sorted(ids, key=lambda i: (type(i).__qualname__, i))


@dataclass(frozen=True)
class _Instance:
    """The input in sorted order, pairs as (subjects, assessors) matrices: what the checks, the solve and the cut read."""

    subjects: list[Subject]
    assessors: list[Assessor]
    k: int
    allowed: np.ndarray  # (subjects, assessors) bool: not in conflict and able to serve
    conflicted: np.ndarray  # (subjects, assessors) bool
    fixed: np.ndarray  # (subjects, assessors) bool
    max_load: np.ndarray  # (assessors,) int64

    @property
    def open(self) -> np.ndarray:
        """Pairs the solve may still choose."""
        return self.allowed & ~self.fixed

    @property
    def demand(self) -> np.ndarray:
        """Seats each subject's panel still needs."""
        return self.k - self.fixed.sum(axis=1)

    @property
    def room(self) -> np.ndarray:
        """Load each assessor can still take."""
        return self.max_load - self.fixed.sum(axis=0)


def _instance(
    subjects: Sequence[Subject], assessors: Sequence[Assessor], k: int,
    conflicts: Collection[tuple[Hashable, Hashable]], fixed: Mapping[Hashable, Collection[Hashable]],
) -> _Instance:
    if k < 0:
        raise ValueError(f"k must be at least 0, not {k}")
    by_subject = {s.id: s for s in subjects}
    by_assessor = {a.id: a for a in assessors}
    if len(by_subject) < len(subjects) or len(by_assessor) < len(assessors):
        raise ValueError("subject ids and assessor ids must be unique")
    if any(a.max_load < 0 for a in assessors):
        raise ValueError("max_load must be at least 0")
    subject_ids, assessor_ids = _ordered(by_subject), _ordered(by_assessor)
    row = {sid: i for i, sid in enumerate(subject_ids)}
    col = {aid: j for j, aid in enumerate(assessor_ids)}
    shape = (len(row), len(col))
    conflicted = np.zeros(shape, dtype=bool)
    for sid, aid in conflicts:
        # Conflicts of people outside this solve (a campaign's whole list) are no concern of it.
        if sid in row and aid in col:
            conflicted[row[sid], col[aid]] = True
    pinned = np.zeros(shape, dtype=bool)
    for sid, members in fixed.items():
        unknown = [aid for aid in members if aid not in col]
        if sid not in row or unknown:
            raise ValueError(f"fixed names an unknown subject or assessor: {sid!r} {unknown!r}")
        pinned[row[sid], [col[aid] for aid in members]] = True
    max_load = np.array([by_assessor[aid].max_load for aid in assessor_ids], dtype=np.int64)
    return _Instance(
        subjects=[by_subject[sid] for sid in subject_ids],
        assessors=[by_assessor[aid] for aid in assessor_ids],
        k=k,
        allowed=~conflicted & (max_load > 0)[None, :],
        conflicted=conflicted,
        fixed=pinned,
        max_load=max_load,
    )


def _ids(items: Sequence[Subject] | Sequence[Assessor], mask: np.ndarray) -> list[Hashable]:
    return [items[i].id for i in np.flatnonzero(mask)]


def _check_panel_size(inst: _Instance) -> None:
    able = inst.max_load > 0
    if inst.subjects and inst.k > able.sum():
        raise AssignmentInfeasible(
            "panel_size", [], _ids(inst.assessors, able),
            f"Each panel needs {inst.k} assessors, but only {int(able.sum())} can serve.")
    over = inst.demand < 0
    if over.any():
        raise AssignmentInfeasible(
            "panel_size", _ids(inst.subjects, over), _ids(inst.assessors, inst.fixed[over].any(axis=0)),
            f"{int(over.sum())} subject(s) have more than {inst.k} fixed panel members.")


def _check_capacity(inst: _Instance) -> None:
    seats = inst.k * len(inst.subjects)
    if inst.max_load.sum() < seats:
        raise AssignmentInfeasible(
            "capacity", [], [a.id for a in inst.assessors],
            f"The panels need {seats} seats, but the assessors' maximum loads add up to {int(inst.max_load.sum())}.")
    over = inst.room < 0
    if over.any():
        raise AssignmentInfeasible(
            "capacity", _ids(inst.subjects, inst.fixed[:, over].any(axis=1)), _ids(inst.assessors, over),
            f"{int(over.sum())} assessor(s) are fixed on more panels than their maximum load.")


def _check_conflicts(inst: _Instance) -> None:
    clash = inst.fixed & inst.conflicted
    if clash.any():
        raise AssignmentInfeasible(
            "conflicts", _ids(inst.subjects, clash.any(axis=1)), _ids(inst.assessors, clash.any(axis=0)),
            f"{int(clash.sum())} fixed panel member(s) are in conflict with their subject.")
    short = inst.allowed.sum(axis=1) < inst.k
    if short.any():
        raise AssignmentInfeasible(
            "conflicts", _ids(inst.subjects, short), _ids(inst.assessors, inst.conflicted[short].any(axis=0)),
            f"{int(short.sum())} subject(s) have fewer than {inst.k} assessors free of conflict.")


def _check_cut(inst: _Instance) -> None:
    """When the flow falls short after the simple checks: a Hall violation, read from a min cut."""
    n, m = inst.open.shape
    assessor_node = 2 + n
    flow = max_flow.SimpleMaxFlow()
    pairs_s, pairs_a = np.nonzero(inst.open)
    tails = np.concatenate([np.full(n, SOURCE), 2 + pairs_s, assessor_node + np.arange(m)])
    heads = np.concatenate([2 + np.arange(n), assessor_node + pairs_a, np.full(m, SINK)])
    caps = np.concatenate([inst.demand, np.ones(len(pairs_s), dtype=np.int64), inst.room])
    flow.add_arcs_with_capacity(tails, heads, caps)
    if flow.solve(SOURCE, SINK) != flow.OPTIMAL:
        raise RuntimeError("the diagnostic max flow did not solve")
    needed = int(inst.demand.sum())
    if flow.optimal_flow() == needed:
        return
    side = np.zeros(2 + n + m, dtype=bool)
    side[flow.get_source_side_min_cut()] = True
    subjects, assessors = side[2:2 + n], side[assessor_node:]
    seats = int(inst.demand[subjects].sum())
    outside = int(inst.open[np.ix_(subjects, ~assessors)].sum())
    left = int(inst.room[assessors].sum())
    raise AssignmentInfeasible(
        "capacity_after_conflicts", _ids(inst.subjects, subjects), _ids(inst.assessors, assessors),
        f"{int(subjects.sum())} subject(s) need {seats} more seats, but the {int(assessors.sum())} full assessor(s) "
        f"open to them had only {left} left, and the others open to them can give at most {outside}.")


@dataclass(frozen=True)
class _Scales:
    """Weights that make one min-cost flow lexicographic (the bound is in the module's docstring)."""

    mix: int
    balance: int


def _scales(inst: _Instance, units: np.ndarray) -> _Scales:
    m = len(inst.assessors)
    mix = 2 * m + 1
    balance = mix * (2 * max(inst.k - 1, 0) * (m + 2) + 1)
    seats = int(inst.demand.sum())
    highest = inst.fixed.sum(axis=0) + units
    if balance * (int((highest**2).sum()) + 1) + mix * inst.k * seats > COST_LIMIT:
        raise ValueError("the instance is too large for int64 costs (see shared/assignment.py)")
    return _Scales(mix, balance)


def _types(inst: _Instance) -> tuple[np.ndarray, int]:
    names = sorted({a.type for a in inst.assessors})
    index = {name: t for t, name in enumerate(names)}
    return np.array([index[a.type] for a in inst.assessors], dtype=np.int64), len(names)


def _misfit(inst: _Instance) -> np.ndarray:
    """(subjects, assessors) bool: the assessor's disciplines lack the subject's."""
    disciplines = sorted({s.discipline for s in inst.subjects})
    has = np.array([[d in a.disciplines for a in inst.assessors] for d in disciplines], dtype=bool)
    has = has.reshape(len(disciplines), len(inst.assessors))
    index = {d: i for i, d in enumerate(disciplines)}
    return ~has[[index[s.discipline] for s in inst.subjects]]


class _Network:
    """The arcs of the flow in four blocks, kept as arrays so the panels are read back in one call."""

    def __init__(self, inst: _Instance) -> None:
        self.inst = inst
        n, m = inst.open.shape
        self.type_of, types = _types(inst)
        self.misfit = _misfit(inst)
        self.subject_node = 2 + np.arange(n)
        self.assessor_node = 2 + n + np.arange(m)
        type_base = 2 + n + m
        self.tails: list[np.ndarray] = []
        self.heads: list[np.ndarray] = []
        self.caps: list[np.ndarray] = []
        self.costs: list[np.ndarray] = []
        open_ = inst.open
        # Each assessor can take no more than the subjects open to it: fewer load arcs, a smaller cost bound.
        load_units = np.minimum(inst.room, open_.sum(axis=0))
        self.scales = _scales(inst, load_units)

        self._add(np.full(n, SOURCE), self.subject_node, inst.demand, np.zeros(n, dtype=np.int64))

        # One arc per unit of each type a subject may take, costing more for each repeat.
        by_type = np.zeros((n, types), dtype=np.int64)
        fixed_by_type = np.zeros((n, types), dtype=np.int64)
        np.add.at(by_type.T, self.type_of, open_.T.astype(np.int64))
        np.add.at(fixed_by_type.T, self.type_of, inst.fixed.T.astype(np.int64))
        type_units = np.minimum(by_type, inst.demand[:, None])
        s_idx, t_idx = np.nonzero(type_units)
        type_node = type_base + s_idx * types + t_idx
        for i in range(int(type_units.max(initial=0))):
            more = type_units[s_idx, t_idx] > i
            self._add(self.subject_node[s_idx[more]], type_node[more], np.ones(int(more.sum()), dtype=np.int64),
                      self.scales.mix * (fixed_by_type[s_idx[more], t_idx[more]] + i))

        pair_s, pair_a = np.nonzero(open_)
        self.pairs = (pair_s, pair_a)
        self.pair_block = len(self.tails)
        self._add(type_base + pair_s * types + self.type_of[pair_a], self.assessor_node[pair_a],
                  np.ones(len(pair_s), dtype=np.int64), self.misfit[pair_s, pair_a].astype(np.int64))

        # One arc per unit of load: the l-th costs BALANCE * (2l - 1), l counted after the fixed load.
        fixed_load = inst.fixed.sum(axis=0)
        for i in range(int(load_units.max(initial=0))):
            more = np.flatnonzero(load_units > i)
            self._add(self.assessor_node[more], np.full(len(more), SINK), np.ones(len(more), dtype=np.int64),
                      self.scales.balance * (2 * (fixed_load[more] + i + 1) - 1))

    def _add(self, tails, heads, caps, costs) -> None:
        self.tails.append(np.asarray(tails, dtype=np.int64))
        self.heads.append(np.asarray(heads, dtype=np.int64))
        self.caps.append(np.asarray(caps, dtype=np.int64))
        self.costs.append(np.asarray(costs, dtype=np.int64))

    def solve(self) -> np.ndarray | None:
        """The chosen pairs as a (subjects, assessors) bool matrix, or None when the flow falls short."""
        solver = min_cost_flow.SimpleMinCostFlow()
        arcs = solver.add_arcs_with_capacity_and_unit_cost(
            np.concatenate(self.tails), np.concatenate(self.heads), np.concatenate(self.caps), np.concatenate(self.costs))
        needed = int(self.inst.demand.sum())
        solver.set_node_supply(SOURCE, needed)
        solver.set_node_supply(SINK, -needed)
        status = solver.solve()
        if status == solver.INFEASIBLE:
            return None
        if status != solver.OPTIMAL:
            raise RuntimeError(f"the min-cost flow did not solve: {status!r}")
        start = sum(len(t) for t in self.tails[:self.pair_block])
        used = solver.flows(arcs[start:start + len(self.pairs[0])]) > 0
        chosen = self.inst.fixed.copy()
        chosen[self.pairs[0][used], self.pairs[1][used]] = True
        return chosen


def _figures(inst: _Instance, net: _Network, chosen: np.ndarray) -> tuple[int, int, int, Cost]:
    """spread, mixed_panels, fitting_panels and cost of a full assignment."""
    loads = chosen.sum(axis=0)
    # Room left: below the maximum, and a subject not yet theirs that they may take.
    room_left = (loads < inst.max_load) & (inst.allowed & ~chosen).any(axis=0)
    spread = int(loads.max() - loads[room_left].min()) if room_left.any() else 0
    types = int(net.type_of.max(initial=-1)) + 1
    counts = np.zeros((len(inst.subjects), types), dtype=np.int64)
    available = np.zeros((len(inst.subjects), types), dtype=bool)
    np.add.at(counts.T, net.type_of, chosen.T.astype(np.int64))
    np.logical_or.at(available.T, net.type_of, inst.allowed.T)
    mixed = int(((counts > 0).sum(axis=1) == np.minimum(inst.k, available.sum(axis=1))).sum())
    misfits = chosen & net.misfit
    fitting = int((~misfits.any(axis=1)).sum())
    repeats = int((counts * (counts - 1) // 2).sum())
    return spread, mixed, fitting, Cost(int((loads**2).sum()), repeats, int(misfits.sum()))


def assign(
    subjects: Sequence[Subject],
    assessors: Sequence[Assessor],
    k: int,
    conflicts: Collection[tuple[Hashable, Hashable]] = (),
    fixed: Mapping[Hashable, Collection[Hashable]] | None = None,
) -> Assignment:
    """k distinct assessors per subject: never a conflicted pair, no assessor above max_load, the
    `fixed` (subject -> assessors) pairs kept; loads as even as allowed, then types mixed, then
    disciplines fitting. Raises AssignmentInfeasible naming the constraint that cannot be met,
    ValueError on malformed input (negative k or load, duplicate ids, unknown ids in `fixed`)."""
    inst = _instance(subjects, assessors, k, conflicts, fixed or {})
    _check_panel_size(inst)
    _check_capacity(inst)
    _check_conflicts(inst)
    net = _Network(inst)
    chosen = net.solve()
    if chosen is None:
        _check_cut(inst)
        raise RuntimeError("the min-cost flow fell short where a max flow did not")
    spread, mixed, fitting, cost = _figures(inst, net, chosen)
    return Assignment(
        panels={s.id: tuple(_ids(inst.assessors, chosen[i])) for i, s in enumerate(inst.subjects)},
        loads={a.id: int(load) for a, load in zip(inst.assessors, chosen.sum(axis=0), strict=True)},
        spread=spread,
        mixed_panels=mixed,
        fitting_panels=fitting,
        cost=cost,
    )
