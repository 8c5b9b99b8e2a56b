"""Knowledge graph: (subject, relation, object) facts from CSV or JSON Lines, and the tools that let
a plan look them up, so answers can combine graph facts with retrieved passages.

This module owns the fact graph, a networkx `MultiDiGraph`; `plan.py` owns the plan DAG, and the
two share nothing. Entities and relations match case-insensitively (and `_` as a space); the
first spelling loaded is the one shown. A name the graph does not know raises `RetryTool` with
the closest known ones, so the model can correct its next step.
"""

from __future__ import annotations

import csv
import difflib
import io
import itertools
import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Literal, NamedTuple

import networkx as nx

from .errors import ConfigError, RetryTool
from .registry import Tool, tool

Direction = Literal["out", "in", "both"]
Edge = tuple[str, str, str]  # (subject key, object key, relation key)
FIELDS = ("subject", "relation", "object")
MAX_FACTS = 20
"""At most this many facts (or names) in one tool result: a small model's prompt is short."""
MAX_HOPS = 4


class Fact(NamedTuple):
    """One edge of the graph, with names as first loaded."""

    subject: str
    relation: str
    object: str

    def __str__(self) -> str:
        return f"{self.subject} —{self.relation}→ {self.object}"


class KnowledgeGraph:
    """Facts as a directed multigraph. `graph` is the networkx `MultiDiGraph`, for algorithms not
    wrapped here: nodes are matching keys with the loaded spelling as `name`; each fact is an edge
    keyed by its relation's matching key, with the loaded spelling as `relation`."""

    def __init__(self) -> None:
        self.graph = nx.MultiDiGraph()
        self.sources: list[str] = []

    def __len__(self) -> int:
        return self.graph.number_of_edges()

    def __contains__(self, entity: object) -> bool:
        return isinstance(entity, str) and _key(entity) in self.graph

    def add(self, subject: str, relation: str, object: str) -> None:
        """Add one fact (adding it again changes nothing); ConfigError if a part is empty."""
        try:
            fact = _checked([subject, relation, object])
        except ValueError as exc:
            raise ConfigError(f"The fact {(subject, relation, object)}: {exc}") from None
        self._add(fact)

    def load(self, path: str | Path) -> int:
        """Add the facts in a `.csv` (header `subject,relation,object`, or three columns) or `.jsonl`
        (`{"subject", "relation", "object"}` per line) file; returns how many were new.

        A ConfigError names the file and line of the first problem; the graph is then unchanged.
        """
        path = Path(path)
        facts = _read_facts(path)
        if not facts:
            raise ConfigError(f"{path}: no facts; write one {','.join(FIELDS)} per line")
        before = len(self)
        for fact in facts:
            self._add(fact)
        self.sources.append(str(path))
        return len(self) - before

    def entity(self, name: str) -> str:
        """The entity's name as loaded; RetryTool with the closest names if there is none."""
        key = _key(name)
        if key not in self.graph:
            raise RetryTool(f"the knowledge graph has no entity {name!r}{_suggest(key, self.graph.nodes, self._name)}")
        return self._name(key)

    def neighbours(self, entity: str, relation: str | None = None, direction: Direction = "both") -> list[Fact]:
        """Facts with `entity` as subject ("out"), object ("in") or either ("both"), optionally
        only those of one relation (RetryTool naming the entity's relations if it has none)."""
        if direction not in ("out", "in", "both"):
            raise ConfigError(f"direction={direction!r}; use 'out', 'in' or 'both'")
        name = self.entity(entity)
        key = _key(name)
        edges = self._edges(key, direction)
        if relation is None:
            return [self._fact(edge) for edge in edges]
        wanted = _key(relation)
        facts = [self._fact(edge) for edge in edges if edge[2] == wanted]
        if not facts:
            others = [str(self._fact(e)) for e in self._edges(key, "both") if e[2] == wanted]
            relations = {e[2]: self._relation(e) for e in edges}
            hint = f"; but: {'; '.join(others[:3])}" if others else _suggest(wanted, relations, relations.__getitem__)
            role = {"out": " as subject", "in": " as object"}.get(direction, "")
            raise RetryTool(f"{name} has no {relation!r} facts{role}{hint}")
        return facts

    def objects(self, subject: str, relation: str) -> list[str]:
        """What `subject` is linked to by `relation`: the objects of its facts of that relation."""
        return [fact.object for fact in self.neighbours(subject, relation, "out")]

    def path(self, source: str, target: str, max_hops: int = MAX_HOPS) -> list[Fact]:
        """The shortest chain of at most `max_hops` facts from `source` to `target`: following the
        facts forward if such a chain exists, else reading them either way; [] if there is none."""
        a, b = _key(self.entity(source)), _key(self.entity(target))
        if a == b:
            raise RetryTool(f"{source!r} and {target!r} are the same entity; give two different ones")
        for view in (self.graph, self.graph.to_undirected(as_view=True)):
            try:
                nodes = nx.bidirectional_shortest_path(view, a, b)
            except nx.NetworkXNoPath:
                continue
            if len(nodes) - 1 <= max_hops:
                return [self._hop(u, v) for u, v in itertools.pairwise(nodes)]
        return []

    def facts(self, entity: str | None = None) -> list[Fact]:
        """Every fact, or every fact that mentions `entity`."""
        if entity is not None:
            return self.neighbours(entity)
        return [self._fact(edge) for edge in self.graph.edges(keys=True)]

    def _add(self, fact: Fact) -> None:
        subject, relation, object_ = (_key(part) for part in fact)
        for key, name in ((subject, fact.subject), (object_, fact.object)):
            if key not in self.graph:
                self.graph.add_node(key, name=name)
        if not self.graph.has_edge(subject, object_, relation):
            self.graph.add_edge(subject, object_, relation, relation=fact.relation)

    def _hop(self, u: str, v: str) -> Fact:
        """A fact linking two adjacent entities, whichever way it points."""
        start, end = (u, v) if self.graph.has_edge(u, v) else (v, u)
        return self._fact((start, end, next(iter(self.graph[start][end]))))

    def _edges(self, key: str, direction: Direction) -> list[Edge]:
        out = self.graph.out_edges(key, keys=True) if direction != "in" else []
        into = self.graph.in_edges(key, keys=True) if direction != "out" else []
        # with "both", a fact about itself (A —r→ A) is an out- and an in-edge: keep it once
        return [*out, *(e for e in into if direction == "in" or e[0] != key)]

    def _name(self, key: str) -> str:
        return self.graph.nodes[key]["name"]

    def _relation(self, edge: Edge) -> str:
        return self.graph.edges[edge]["relation"]

    def _fact(self, edge: Edge) -> Fact:
        return Fact(self._name(edge[0]), self._relation(edge), self._name(edge[1]))


def graph_tools(graph: KnowledgeGraph) -> list[Tool]:
    """The built-in `graph_facts`, `graph_lookup` and `graph_path` tools over one graph."""

    @tool(name="graph_facts", idempotent=True)
    def graph_facts(entity: str, relation: str = "") -> str:
        """Facts about a person, place or thing from the user's knowledge graph, one per line.

        Args:
            entity: the name to look up, e.g. "France"
            relation: only facts of this relation, e.g. "capital"; empty for all
        """
        facts = graph.neighbours(entity, relation or None)
        return _listing([str(fact) for fact in facts], "facts; give a relation to narrow them")

    @tool(name="graph_lookup", idempotent=True)
    def graph_lookup(subject: str, relation: str) -> str:
        """Look up a fact in the user's knowledge graph: subject "France", relation "capital" gives "Paris".

        Args:
            subject: the entity asked about, e.g. "France"
            relation: the relation, e.g. "capital"
        """
        return _listing(graph.objects(subject, relation), "names", sep=", ")

    @tool(name="graph_path", idempotent=True)
    def graph_path(source: str, target: str) -> str:
        """How two entities are connected in the user's knowledge graph: the chain of facts linking
        them, e.g. from "Bern" to "North Sea".

        Args:
            source: one entity, e.g. "Bern"
            target: the other entity, e.g. "North Sea"
        """
        hops = graph.path(source, target)
        if not hops:
            return f"No chain of at most {MAX_HOPS} facts links {graph.entity(source)} and {graph.entity(target)}."
        return "\n".join(str(fact) for fact in hops)

    made = [graph_facts, graph_lookup, graph_path]
    for t in made:
        t.source = f"builtin (knowledge graph {', '.join(graph.sources) or 'built in code'})"
    return made


def _key(name: str) -> str:
    """How names are matched: case, repeated spaces and `_` for a space do not matter."""
    return " ".join(name.replace("_", " ").split()).casefold()


def _suggest(key: str, known: Iterable[str], show: Callable[[str], str]) -> str:
    """'; did you mean ...?' with the known keys closest to `key` (shown by `show`), else some known ones."""
    known = list(known)
    close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
    if close:
        return f"; did you mean {' or '.join(repr(show(k)) for k in close)}?"
    if not known:
        return ""
    some = ", ".join(show(k) for k in known[:10])
    return f"; known: {some}" + (f" and {len(known) - 10} more" if len(known) > 10 else "")


def _listing(items: Sequence[str], noun: str, sep: str = "\n") -> str:
    """At most MAX_FACTS items, then how many more there were."""
    shown = sep.join(items[:MAX_FACTS])
    rest = len(items) - MAX_FACTS
    return shown if rest <= 0 else f"{shown}\n… and {rest} more {noun}"


def _checked(values: Sequence[str]) -> Fact:
    """The three parts, stripped; ValueError naming an empty one."""
    fact = Fact(*(value.strip() for value in values))
    for name, value in zip(FIELDS, fact, strict=True):
        if not value:
            raise ValueError(f"the {name} is empty")
    return fact


def _read_facts(path: Path) -> list[Fact]:
    """Facts from a file, checked; a ConfigError at the first bad line."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl"):
        raise ConfigError(
            f"{path}: facts are read from .csv or .jsonl files, not {suffix or 'files without extension'!r}"
        )
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    raw = path.read_bytes()
    if b"\x00" in raw[:8192]:
        raise ConfigError(f"{path}: binary content, not a text file of facts")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 (byte {exc.start}); re-save the file as UTF-8") from None
    read = _csv_facts if suffix == ".csv" else _jsonl_facts
    return list(read(path, text))


def _csv_facts(path: Path, text: str) -> Iterable[Fact]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise ConfigError(f"{path}:{reader.line_num}: {exc}") from None
    if not rows:
        return
    header = [cell.strip().casefold() for cell in rows[0][1]]
    columns = [0, 1, 2]
    if set(FIELDS) & set(header):
        missing = [name for name in FIELDS if name not in header]
        if missing:
            raise ConfigError(f"{path}:{rows[0][0]}: the header has no {' or '.join(map(repr, missing))} column; "
                              f"name the columns {','.join(FIELDS)}")
        columns = [header.index(name) for name in FIELDS]
        rows = rows[1:]
    for line, row in rows:
        lacking = [name for name, column in zip(FIELDS, columns, strict=True) if column >= len(row)]
        if lacking:
            raise ConfigError(f"{path}:{line}: no {' or '.join(map(repr, lacking))} column in {row}")
        if columns == [0, 1, 2] and len(row) > 3 and any(cell.strip() for cell in row[3:]):
            raise ConfigError(f"{path}:{line}: {len(row)} columns, not 3; quote a name that contains a comma")
        try:
            yield _checked([row[column] for column in columns])
        except ValueError as exc:
            raise ConfigError(f"{path}:{line}: {exc}") from None


def _jsonl_facts(path: Path, text: str) -> Iterable[Fact]:
    for line, record in enumerate(text.split("\n"), 1):
        if not record.strip():
            continue
        try:
            data = json.loads(record)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{line}: not JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}:{line}: a JSON {type(data).__name__}; write an object with {', '.join(FIELDS)}")
        values = []
        for name in FIELDS:
            value = data.get(name)
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                problem = "no" if value is None else f"a {type(value).__name__} as"
                raise ConfigError(f"{path}:{line}: {problem} {name!r}; give it as a string")
            values.append(str(value))
        try:
            yield _checked(values)
        except ValueError as exc:
            raise ConfigError(f"{path}:{line}: {exc}") from None
