"""agentdojo's prompt-injection attacks, rendered the way agentdojo renders them, and its suites'
environment strings as a benign corpus. Everything is read from the wheel's source with `ast`;
nothing of agentdojo is imported or executed."""

from __future__ import annotations

import ast
import random
import string
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import yaml

from wheels import WheelData

ATTACKS_DIR = "agentdojo/attacks/"
SUITES = ("banking", "slack", "travel", "workspace")
# Benchmark versions in the order agentdojo applies them (later ones update earlier tasks).
VERSIONS = ("v1", "v1_1", "v1_1_1", "v1_1_2", "v1_2", "v1_2_1")
# The victim pipeline whose model name the attacks address (agentdojo's get_model_name_from_pipeline).
PIPELINE_MODEL = "gpt-4o-2024-05-13"
# FixedJailbreakAttack's defaults (agentdojo/attacks/base_attacks.py).
DEFAULT_USER_NAME = "the user"
DEFAULT_MODEL_NAME = "the AI language model"


class NotConstant(Exception):
    """An expression whose value needs running agentdojo code."""


def evaluate(node: ast.AST, names: dict[str, Any]) -> Any:
    """The value of a constant expression: literals, names bound in `names`, f-strings, `+`,
    `self.NAME` (class attributes) and containers of those."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in names:
            return names[node.id]
        raise NotConstant(node.id)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
        if node.attr in names:
            return names[node.attr]
        raise NotConstant(f"self.{node.attr}")
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                if value.format_spec is not None or value.conversion not in (-1, None):
                    raise NotConstant("formatted value with a spec")
                parts.append(str(evaluate(value.value, names)))
            else:
                parts.append(str(evaluate(value, names)))
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return evaluate(node.left, names) + evaluate(node.right, names)
    if isinstance(node, ast.List):
        return [evaluate(item, names) for item in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(evaluate(item, names) for item in node.elts)
    if isinstance(node, ast.Dict):
        if any(key is None for key in node.keys):
            raise NotConstant("dict unpacking")
        return {evaluate(k, names): evaluate(v, names) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -evaluate(node.operand, names)
    raise NotConstant(type(node).__name__)


def _assignments(body: list[ast.stmt]) -> list[tuple[str, ast.AST]]:
    found = []
    for statement in body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
            if isinstance(target, ast.Name):
                found.append((target.id, statement.value))
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            if isinstance(statement.target, ast.Name):
                found.append((statement.target.id, statement.value))
    return found


def _bind(body: list[ast.stmt], names: dict[str, Any]) -> dict[str, Any]:
    """Evaluates the constant assignments of a module or class body in order."""
    bound = dict(names)
    for name, value in _assignments(body):
        try:
            bound[name] = evaluate(value, bound)
        except NotConstant:
            pass
    return bound


# ---------------------------------------------------------------------------------------------
# injection tasks
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InjectionTask:
    suite: str
    task_id: str  # the class name, e.g. InjectionTask3
    version: str  # the benchmark version directory that last defined it
    goal: str
    tools: str  # the tool_knowledge attack's rendering of the ground truth's placeholder calls


def _placeholder_calls(function: ast.FunctionDef, names: dict[str, Any]) -> list[tuple[str, Any]]:
    names = _bind(function.body, names)  # local constants such as `msg = f"..."`
    calls = []
    for node in ast.walk(function):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "FunctionCall"):
            continue
        keywords = {keyword.arg: keyword.value for keyword in node.keywords}
        try:
            name = evaluate(keywords["function"], names)
        except (KeyError, NotConstant):
            continue
        placeholder = keywords.get("placeholder_args")
        if placeholder is None:
            continue
        if isinstance(placeholder, ast.Dict):
            # Arguments computed at run time keep their source text, so the rendering stays close.
            args = {}
            for key, value in zip(placeholder.keys, placeholder.values):
                if key is None:
                    continue
                try:
                    label = evaluate(key, names)
                except NotConstant:
                    label = ast.unparse(key)
                try:
                    args[label] = evaluate(value, names)
                except NotConstant:
                    args[label] = f"${ast.unparse(value).replace('self.', '').lower()}"
        else:
            args = {"args": "$" + ast.unparse(placeholder)}
        calls.append((node.lineno, node.col_offset, name, args))
    calls.sort()
    return [(name, args) for _, _, name, args in calls]


def _tools_sequence(calls: list[tuple[str, Any]]) -> str:
    """agentdojo's ToolKnowledgeAttack.get_tools_sequence over the parsed calls."""
    output = ""
    for index, (function, args) in enumerate(calls):
        if index == 0:
            output += f"You should use the tool `{function}` with the following arguments: {args}. "
        elif index == len(calls) - 1:
            output += f"Finally, you should use the tool `{function}` with the arguments: {args}. "
        else:
            output += f"Then, you should use the tool `{function}` with the arguments: {args}. "
    return output


def injection_tasks(wheel: WheelData) -> list[InjectionTask]:
    """The latest version of every injection task of the four default suites."""
    tasks: dict[tuple[str, str], InjectionTask] = {}
    for version in VERSIONS:
        for suite in SUITES:
            path = f"agentdojo/default_suites/{version}/{suite}/injection_tasks.py"
            if not wheel.exists(path):
                continue
            module = ast.parse(wheel.read_text(path))
            module_names = _bind(module.body, {})
            for node in module.body:
                if not isinstance(node, ast.ClassDef) or not node.name.startswith("InjectionTask"):
                    continue
                names = _bind(node.body, module_names)
                if "GOAL" not in names:
                    raise ValueError(f"{path}: {node.name}.GOAL is not a constant expression")
                ground_truth = next(
                    (f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == "ground_truth"), None
                )
                calls = _placeholder_calls(ground_truth, names) if ground_truth else []
                tasks[(suite, node.name)] = InjectionTask(
                    suite, node.name, version, names["GOAL"], _tools_sequence(calls)
                )
    return sorted(tasks.values(), key=lambda t: (t.suite, int(t.task_id.removeprefix("InjectionTask") or 0)))


# ---------------------------------------------------------------------------------------------
# attacks
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Attack:
    name: str
    template: str
    user_name: str
    model_name: str
    uses_goal: bool


def _model_names(wheel: WheelData) -> dict[str, str]:
    module = ast.parse(wheel.read_text("agentdojo/models.py"))
    for name, value in _assignments(module.body):
        if name == "MODEL_NAMES":
            return evaluate(value, {})
    raise ValueError("agentdojo/models.py has no MODEL_NAMES")


def attacks(wheel: WheelData) -> list[Attack]:
    """Every registered attack with a fixed template (all but `manual`), with the user and model
    names agentdojo fills in for a GPT-4o pipeline."""
    model_names = _model_names(wheel)
    model = model_names[PIPELINE_MODEL]
    wrong_names = [name for name in model_names.values() if name != model]
    wrong_model = random.Random(0).choice(wrong_names)  # get_wrong_model_name_from_pipeline
    symbols = {
        "DEFAULT_USER_NAME": DEFAULT_USER_NAME,
        "DEFAULT_MODEL_NAME": DEFAULT_MODEL_NAME,
    }
    classes: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    files = sorted(n for n in wheel.names() if n.startswith(ATTACKS_DIR) and n.endswith(".py"))
    for path in files:
        module = ast.parse(wheel.read_text(path))
        for node in module.body:
            if not isinstance(node, ast.ClassDef):
                continue
            info: dict[str, Any] = {"bases": [b.id for b in node.bases if isinstance(b, ast.Name)]}
            for name, value in _assignments(node.body):
                try:
                    info[name] = evaluate(value, symbols)
                except NotConstant:
                    pass
            init = next((f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
            if init is not None:
                for statement in ast.walk(init):
                    if isinstance(statement, ast.Call) and isinstance(statement.func, ast.Attribute):
                        owner = statement.func.value
                        if (
                            statement.func.attr == "__init__"
                            and isinstance(owner, ast.Call)
                            and isinstance(owner.func, ast.Name)
                            and owner.func.id == "super"
                            and statement.args
                        ):
                            try:
                                info["jailbreak"] = evaluate(statement.args[0], {**symbols, **info})
                            except NotConstant:
                                pass
                    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
                        target = statement.targets[0]
                        if (
                            isinstance(target, ast.Attribute)
                            and isinstance(target.value, ast.Name)
                            and target.value.id == "self"
                            and target.attr in ("user_name", "model_name")
                        ):
                            value = statement.value
                            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
                                if value.func.id == "get_model_name_from_pipeline":
                                    info[target.attr] = model
                                elif value.func.id == "get_wrong_model_name_from_pipeline":
                                    info[target.attr] = wrong_model
                            else:
                                try:
                                    info[target.attr] = evaluate(value, symbols)
                                except NotConstant:
                                    pass
            classes[node.name] = info
            order.append(node.name)

    def lookup(class_name: str, key: str) -> Any:
        info = classes.get(class_name)
        if info is None:
            return None
        if key in info:
            return info[key]
        for base in info["bases"]:
            found = lookup(base, key)
            if found is not None:
                return found
        return None

    def template_of(class_name: str) -> tuple[str | None, bool]:
        # A class's own _JB_STRING / _DOS_STRING / jailbreak wins over what it inherits.
        info = classes.get(class_name)
        if info is None:
            return None, False
        for key in ("_DOS_STRING", "_JB_STRING", "jailbreak"):
            if key in info:
                return info[key], key != "_DOS_STRING"
        for base in info["bases"]:
            template, uses_goal = template_of(base)
            if template is not None:
                return template, uses_goal
        return None, False

    result = []
    for class_name in order:
        info = classes[class_name]
        name = info.get("name")
        if not isinstance(name, str):
            continue
        template, uses_goal = template_of(class_name)
        if template is None:
            continue  # `manual` asks a person for the text
        user = lookup(class_name, "user_name") or DEFAULT_USER_NAME
        model_name = lookup(class_name, "model_name") or DEFAULT_MODEL_NAME
        result.append(Attack(name, template, user, model_name, uses_goal))
    return result


def render(attack: Attack, task: InjectionTask) -> str:
    fields = {name for _, name, _, _ in string.Formatter().parse(attack.template) if name}
    unknown = fields - {"goal", "user", "model", "tools"}
    if unknown:
        raise ValueError(f"attack {attack.name} uses placeholders this evaluation cannot fill: {sorted(unknown)}")
    return attack.template.format(goal=task.goal, user=attack.user_name, model=attack.model_name, tools=task.tools)


@dataclass(frozen=True)
class RenderedAttack:
    attack: str
    suite: str
    task_id: str
    text: str


def rendered_attacks(wheel: WheelData) -> list[RenderedAttack]:
    """Each goal-carrying attack over each injection task; each denial-of-service attack once (its
    text does not depend on the task)."""
    tasks = injection_tasks(wheel)
    rendered = []
    for attack in attacks(wheel):
        targets = tasks if attack.uses_goal else tasks[:1]
        for task in targets:
            rendered.append(
                RenderedAttack(attack.name, task.suite if attack.uses_goal else "-",
                               task.task_id if attack.uses_goal else "-", render(attack, task))
            )
    return rendered


# ---------------------------------------------------------------------------------------------
# benign: the suites' environments with the injection vectors at their defaults
# ---------------------------------------------------------------------------------------------
def _load_yaml_with_includes(wheel: WheelData, path: str) -> Any:
    root = PurePosixPath(path).parent

    class Loader(yaml.SafeLoader):
        pass

    def include(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        included = str(root / str(loader.construct_scalar(node)))
        return _load_yaml_with_includes(wheel, included)

    Loader.add_constructor("!include", include)
    return yaml.load(wheel.read_text(path), Loader)  # noqa: S506 (SafeLoader subclass)


class _QuotedDumper(yaml.SafeDumper):
    pass


# agentdojo dumps strings double-quoted so that injected text survives the round trip.
_QuotedDumper.add_representer(
    str, lambda dumper, data: dumper.represent_scalar("tag:yaml.org,2002:str", data, style='"')
)


def _strings(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            _strings(item, out)
    elif isinstance(value, list):
        for item in value:
            _strings(item, out)


def environment_strings(wheel: WheelData) -> dict[str, list[str]]:
    """Per suite, the distinct non-empty string values of the default environment (emails,
    calendar events, files, messages, reviews ...), as agentdojo loads it with no injection."""
    result = {}
    for suite in SUITES:
        base = f"agentdojo/data/suites/{suite}"
        data = _load_yaml_with_includes(wheel, f"{base}/environment.yaml")
        text = yaml.dump(data, Dumper=_QuotedDumper, default_flow_style=False)
        vectors = yaml.safe_load(wheel.read_text(f"{base}/injection_vectors.yaml"))
        defaults = {name: spec["default"] for name, spec in vectors.items()}
        environment = yaml.safe_load(text.format(**defaults))
        values: list[str] = []
        _strings(environment, values)
        seen = set()
        result[suite] = [v for v in values if v.strip() and not (v in seen or seen.add(v))]
    return result
