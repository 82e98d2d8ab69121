"""Load a scenario YAML file into a validated `Loaded` scenario.

Every problem becomes a `ScenarioError` naming the file, the line and the field (for example
`scenarios/x.yaml:12: devices[1].link.latency: must not be negative`). Line numbers come from
walking PyYAML's node tree once and remembering where each key path starts.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

from simulator.checker import claims, expectations
from simulator.checker.claims import Claim
from simulator.checker.expectations import BadExpectation, Expectation, SeedBound
from simulator.errors import ScenarioError
from simulator.protocol.profile import PROFILES, Profile, UnknownProfile, resolve
from simulator.scenario import model
from simulator.scenario.model import Scenario
from simulator.scenario.references import PLAIN_REFERENCES, references

Path_ = tuple[str | int, ...]
Expected = Expectation | Claim | SeedBound


@dataclass(frozen=True)
class Loaded:
    """A scenario ready to run: the model, its resolved profile and its expectations."""

    source: str
    scenario: Scenario
    profile: Profile
    # Bounds on a run, precise claims, and bounds over the seeds of a sweep (SeedBound).
    expectations: tuple[Expected, ...]


def _index_lines(node: yaml.Node, path: Path_, lines: dict[Path_, int], source: str) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                raise ScenarioError(
                    source, key.start_mark.line + 1, _dotted((*path, name)), "duplicate key"
                )
            seen.add(name)
            lines[(*path, name)] = key.start_mark.line + 1
            _index_lines(value, (*path, name), lines, source)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index_lines(item, (*path, index), lines, source)


def _dotted(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(top level)"


def _line_of(path: Path_, lines: Mapping[Path_, int]) -> int | None:
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def _known_fields(model: type[BaseModel], names: set[str]) -> set[str]:
    for name, info in model.model_fields.items():
        names.add(info.alias or name)
        for arg in (*getattr(info.annotation, "__args__", ()), info.annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                _known_fields(arg, names)
    return names


def _message(error: Any, path: Path_) -> str:
    if error["type"] == "extra_forbidden":
        known = _known_fields(model.ScriptStep if path[:1] == ("steps",) else Scenario, set())
        close = difflib.get_close_matches(str(path[-1]), sorted(known), 1)
        return "unknown field" + (f" (did you mean {close[0]!r}?)" if close else "")
    if error["type"] == "missing":
        return "required field is missing"
    return str(error["msg"]).removeprefix("Value error, ")


# pydantic puts the tag of a discriminated union in an error's location; a person wants the
# field path as written in the file.
_UNION_TAGS = frozenset(
    tag
    for union in (model.Fault, model.Distribution, model.Server)
    for member in get_args(get_args(union)[0])
    for field in ("kind", "dist")
    if field in member.model_fields
    for tag in get_args(member.model_fields[field].annotation)
)


def _pydantic_error(
    source: str, error: ValidationError, lines: Mapping[Path_, int]
) -> ScenarioError:
    # A bad item also makes pydantic complain that its list is too short: not a problem of its own.
    paths = [
        tuple(p for p in e["loc"] if isinstance(p, str | int) and p not in _UNION_TAGS)
        for e in error.errors()
    ]
    real = [
        (e, path)
        for e, path in zip(error.errors(), paths, strict=True)
        if not (
            e["type"] == "too_short" and any(o[: len(path)] == path and o != path for o in paths)
        )
    ]
    first, path = real[0]
    more = len(real) - 1
    message = _message(first, path) + (f" (+{more} more problems)" if more else "")
    return ScenarioError(source, _line_of(path, lines), _dotted(path), message)


# Limits on the document itself, checked before anything walks it (README: "Limits").
MAX_FILE_BYTES = 1_000_000
MAX_LINE = 10_000  # characters on one line
MAX_DEPTH = 64  # nesting of mappings and lists
MAX_NODES = 100_000  # values in the document once aliases are expanded
_NOT_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


class _TooDeep(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing nesting past MAX_DEPTH while it composes (its composer
    recurses, so a deep document would otherwise end in RecursionError)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _TooDeep(self.peek_event().start_mark.line + 1)  # type: ignore[no-untyped-call]
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _check_text(source: str, text: str) -> None:
    """Refuse, with its line, what no scenario holds: overlong lines, control characters."""
    for number, line in enumerate(text.split("\n"), start=1):
        if len(line) > MAX_LINE:
            raise ScenarioError(source, number, "(file)", f"line longer than {MAX_LINE} characters")
        bad = _NOT_PRINTABLE.search(line)
        if bad is not None:
            code = f"U+{ord(bad.group()):04X}"
            message = f"control or non-printable character {code} at column {bad.start() + 1}"
            raise ScenarioError(source, number, "(file)", message)


def _expanded_size(root: yaml.Node, source: str) -> int:
    """How many nodes the tree has with every alias expanded, counted over the shared graph
    (so an alias bomb is measured in linear time, never expanded); a recursive alias is
    refused."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            open_.discard(key)
            sizes[key] = min(1 + sum(sizes[id(c)] for c in children), MAX_NODES + 1)
            continue
        if key in sizes:
            continue
        if key in open_:
            raise ScenarioError(source, node.start_mark.line + 1, "(yaml)", "recursive alias")
        open_.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _parse_yaml(source: str, text: str) -> tuple[Any, dict[Path_, int]]:
    _check_text(source, text)
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None and _expanded_size(node, source) > MAX_NODES:
            message = f"more than {MAX_NODES} values once aliases are expanded"
            raise ScenarioError(source, 1, "(yaml)", message)
        data = None if node is None else loader.construct_document(node)
    except _TooDeep as error:
        message = f"nested more than {MAX_DEPTH} levels deep"
        raise ScenarioError(source, error.line, "(yaml)", message) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = None if mark is None else mark.line + 1
        raise ScenarioError(source, line, "(yaml)", str(error.problem or error)) from None
    except yaml.YAMLError as error:
        raise ScenarioError(source, None, "(yaml)", str(error)) from None
    finally:
        loader.dispose()
    lines: dict[Path_, int] = {}
    if node is not None:
        _index_lines(node, (), lines, source)
    if not isinstance(data, dict):
        raise ScenarioError(source, 1, "(top level)", "a scenario must be a mapping of fields")
    return data, lines


def _check_devices(source: str, scenario: Scenario, lines: Mapping[Path_, int]) -> None:
    names: set[str] = set()
    for index, device in enumerate(scenario.devices):
        if device.name in names:
            path: Path_ = ("devices", index, "name")
            raise ScenarioError(
                source, _line_of(path, lines), _dotted(path), "duplicate device name"
            )
        names.add(device.name)
        for w, window in enumerate(device.offline):
            if window.end <= window.start:
                path = ("devices", index, "offline", w, "to")
                raise ScenarioError(
                    source, _line_of(path, lines), _dotted(path), "must be after 'from'"
                )
        if device.joins >= scenario.duration:
            path = ("devices", index, "joins")
            raise ScenarioError(
                source, _line_of(path, lines), _dotted(path), "must be before the end of `duration`"
            )
        low, high = device.workload.active_hours
        if not 0 <= low < high <= 24:
            path = ("devices", index, "workload", "active_hours")
            raise ScenarioError(
                source, _line_of(path, lines), _dotted(path), "need 0 <= start < end <= 24"
            )


def _check_references(source: str, scenario: Scenario, lines: Mapping[Path_, int]) -> None:
    """Faults and hot items may only name devices the scenario has."""
    names = {d.name for d in scenario.devices}
    groups: list[tuple[Path_, tuple[str, ...]]] = [
        (("faults", i, "devices"), getattr(f, "devices", ())) for i, f in enumerate(scenario.faults)
    ]
    groups += [(("hot_items", i, "devices"), h.devices) for i, h in enumerate(scenario.hot_items)]
    for path, devices in groups:
        for index, name in enumerate(devices):
            if name not in names:
                where = (*path, index)
                known = ", ".join(sorted(names))
                raise ScenarioError(
                    source,
                    _line_of(where, lines),
                    _dotted(where),
                    f"unknown device {name!r}; known: {known}",
                )
    for index, fault in enumerate(scenario.faults):
        if fault.end <= fault.start:
            where = ("faults", index, "to")
            raise ScenarioError(
                source, _line_of(where, lines), _dotted(where), "must be after 'from'"
            )


def _check_steps(source: str, scenario: Scenario, lines: Mapping[Path_, int]) -> None:
    """Each scripted step: a device the scenario has, joined by then, within `duration`; only
    the fields its `do` takes, with those it needs; a name no other step has; an item name that
    an earlier step creates (of the right kind), or for a create, one no other step creates; a
    `replay` of an earlier step that sent a frame; and references (`{{item.E1.id}}`) to items
    an earlier step creates."""

    def refuse(index: int, field: str, message: str) -> ScenarioError:
        where: Path_ = ("steps", index, field)
        return ScenarioError(source, _line_of(where, lines), _dotted(where), message)

    devices = {d.name: d for d in scenario.devices}
    created: dict[str, tuple[str, float]] = {}  # item name -> (the `do` that made it, when)
    named: dict[str, tuple[str, float]] = {}  # step name -> (its `do`, when)
    for index, step in enumerate(scenario.steps):
        takes = model.STEP_FIELDS[step.do]
        for field in sorted(step.model_fields_set - {"at", "device", "do", "name"} - takes):
            listed = ", ".join(sorted(takes)) or "nothing but at, device, do, name"
            raise refuse(index, field, f"`do: {step.do}` takes no {field!r}; it takes {listed}")
        spec = devices.get(step.device)
        if spec is None:
            known = ", ".join(sorted(devices))
            raise refuse(index, "device", f"unknown device {step.device!r}; known: {known}")
        if step.at >= scenario.duration:
            raise refuse(index, "at", "must be before the end of `duration`")
        if step.at < spec.joins:
            raise refuse(index, "at", f"must not be before {step.device!r} joins")
        needed = model.STEP_NEEDS.get(step.do)
        if needed is not None and getattr(step, needed) is None:
            raise refuse(index, needed, "required field is missing")
        problem = _item_problem(step, created)
        if problem is not None:
            raise refuse(index, "item", problem)
        if step.step is not None:
            target = named.get(step.step)
            if target is None or target[1] > step.at or target[0] not in model.STEP_SENDS:
                message = (
                    f"no earlier step named {step.step!r} sends a frame (a named "
                    f"{', '.join(sorted(model.STEP_SENDS))})"
                )
                raise refuse(index, "step", message)
        for field in ("frame", "changes", "cursor"):
            for reference in references(getattr(step, field)):
                problem = _bad_reference(reference, created, step.at)
                if problem is not None:
                    raise refuse(index, field, problem)
        if step.name is not None:
            if step.name in named:
                raise refuse(index, "name", f"another step is already named {step.name!r}")
            named[step.name] = (step.do, step.at)


def _item_problem(step: model.ScriptStep, created: dict[str, tuple[str, float]]) -> str | None:
    """What is wrong with the step's `item`, if anything; a creating step's item is noted."""
    maker = model.STEP_NEEDS_ITEM.get(step.do)
    if maker is not None:
        if step.item is None:
            return "required field is missing"
        made = created.get(step.item)
        if made is None or made[1] > step.at:
            return f"no earlier step creates an item {step.item!r} (`do: {maker}`)"
        if made[0] != maker:
            return f"item {step.item!r} is made by `do: {made[0]}`; {step.do} needs {maker}"
    elif step.item is not None:
        if step.item in created:
            return f"another step already creates {step.item!r}"
        created[step.item] = (step.do, step.at)
    return None


def _bad_reference(
    reference: str, created: Mapping[str, tuple[str, float]], at: float
) -> str | None:
    """Why a `{{...}}` reference in a wire step cannot be filled in, or None."""
    if reference in PLAIN_REFERENCES:
        return None
    parts = reference.split(".")
    if len(parts) == 3 and parts[0] == "item" and parts[2] == "id":
        made = created.get(parts[1])
        if made is None or made[1] > at:
            return f"{{{{{reference}}}}}: no earlier step creates an item {parts[1]!r}"
        return None
    known = ", ".join(f"{{{{{r}}}}}" for r in sorted(PLAIN_REFERENCES))
    return f"{{{{{reference}}}}}: unknown reference; known: {known}, {{{{item.NAME.id}}}}"


def refuse_unplayable_live(source: str, scenario: Scenario) -> None:
    """For a scenario turned live on the command line: the same refusals, without lines."""
    _check_live(source, scenario, {})


def _check_live(source: str, scenario: Scenario, lines: Mapping[Path_, int]) -> None:
    """Refuse what cannot be done against a real endpoint, which is a black box."""
    if scenario.server.kind != "live":
        return
    commands = scenario.server.stop_cmd and scenario.server.start_cmd
    for index, fault in enumerate(scenario.faults):
        if fault.kind == "server_outage" and not commands:
            where: Path_ = ("faults", index, "kind")
            message = (
                "a server outage on a live endpoint needs server.stop_cmd and server.start_cmd"
                " (or --stop-cmd and --start-cmd): the commands that stop and start it"
            )
            raise ScenarioError(source, _line_of(where, lines), _dotted(where), message)
    users = {d.user for d in scenario.devices}
    named = set(scenario.server.users)
    if named and not users <= named:
        where = ("server", "users")
        missing = ", ".join(sorted(users - named))
        raise ScenarioError(
            source, _line_of(where, lines), _dotted(where), f"devices use {missing}"
        )


def load_text(source: str, text: str, profile_name: str | None = None) -> Loaded:
    """Validate a scenario; `profile` runs it under another profile than the one it names."""
    data, lines = _parse_yaml(source, text)
    data.setdefault("name", Path(source).stem)
    if profile_name is not None:
        data["profile"] = profile_name
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        raise _pydantic_error(source, error, lines) from None
    _check_devices(source, scenario, lines)
    _check_references(source, scenario, lines)
    _check_steps(source, scenario, lines)
    _check_live(source, scenario, lines)
    try:
        profile = resolve(scenario.profile, scenario.flags)
    except UnknownProfile as error:
        where: Path_ = ("profile",) if error.flag is None else ("flags", error.flag)
        raise ScenarioError(source, _line_of(where, lines), _dotted(where), error.message) from None
    return Loaded(source, scenario, profile, _expectations(source, scenario, profile, lines))


def _expectations(
    source: str, scenario: Scenario, profile: Profile, lines: Mapping[Path_, int]
) -> tuple[Expected, ...]:
    """`expect` for every profile, with `expect_by_profile[profile]` replacing names it repeats.

    Every profile's block is parsed, not only the one in force, so a typo under another
    profile fails now rather than on the day someone switches profile.
    """
    blocks: list[tuple[Path_, Mapping[str, Any]]] = [(("expect",), scenario.expect)]
    for name, bounds in scenario.expect_by_profile.items():
        path: Path_ = ("expect_by_profile", name)
        if name not in PROFILES:
            known = ", ".join(sorted(PROFILES))
            raise ScenarioError(
                source, _line_of(path, lines), _dotted(path), f"unknown profile; known: {known}"
            )
        blocks.append((path, bounds))
    chosen: dict[str, Expected] = {}
    names = _claim_names(scenario)
    for prefix, block in blocks:
        try:
            parsed: list[Expected] = [*expectations.parse(block)]
            parsed += claims.parse(block, names)
        except BadExpectation as error:
            where = (*prefix, *error.path)
            raise ScenarioError(
                source, _line_of(where, lines), _dotted(where), str(error)
            ) from None
        if prefix == ("expect",) or prefix[-1] == profile.name:
            # A block replaces the names it repeats: a bound's name, or a claim's key.
            repeated = {e.name for e in parsed}
            chosen = {k: v for k, v in chosen.items() if v.name not in repeated}
            chosen.update({_key(e, i): e for i, e in enumerate(parsed)})
    return tuple(chosen.values())


def _key(expected: Expected, index: int) -> str:
    if isinstance(expected, Expectation | SeedBound):
        return f"{expected.name}:{expected.op}"
    return f"{expected.name}:{index}:{expected.text}"


def _claim_names(scenario: Scenario) -> claims.Names:
    """What a precise claim may name: items the steps create, the steps that write."""
    makers = {"create", "add_piece"}
    writes = set(model.STEP_NEEDS_ITEM) | makers
    return claims.Names(
        items=frozenset(s.item for s in scenario.steps if s.item and s.do in makers),
        writing_steps=frozenset(s.name for s in scenario.steps if s.name and s.do in writes),
        devices=frozenset(d.name for d in scenario.devices),
    )


def load(path: str | Path, profile_name: str | None = None) -> Loaded:
    source = str(path)
    try:
        with Path(path).open("rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise ScenarioError(source, None, "(file)", error.strerror or "cannot read") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ScenarioError(source, None, "(file)", f"larger than {MAX_FILE_BYTES} bytes")
    return load_text(source, _decode(source, raw), profile_name)


def _decode(source: str, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        message = f"not UTF-8: byte 0x{raw[error.start]:02x} at column {column}"
        raise ScenarioError(source, line, "(file)", message) from None
