"""docker's --format: the subset of Go's text/template that scripts use, over the dicts the
commands show (docker's field names).

    {{.Field}}  {{.A.B}}  {{.}}  {{json .}}  {{json .Field}}  {{.Field | lower}}
    {{upper .X}}  {{join .List ","}}  {{index .Map "key"}}  {{len .X}}  {{println .X}}
    {{range .List}}...{{.}}...{{end}}  {{if .X}}...{{else}}...{{end}}  {{- trims -}}
    table {{.ID}}\t{{.Names}}      (a header row, then columns aligned as docker's)

Anything else (variables, `with`, `define`, comparisons) is an error that names it, never
silently wrong output.  Values print as Go prints them: true/false, <nil> for null,
map[k:v] and [a b] for maps and lists."""

import json
import re

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`|\||[^\s|]+')
MAX_DEPTH = 100  # {{range}}s and {{if}}s within each other
FUNCTIONS = ("json", "lower", "upper", "title", "join", "index", "len", "println", "split", "truncate")


class TemplateError(Exception):
    """A --format the template subset cannot read or run: the message says where."""


def parse(text: str) -> list:
    """The template as a tree: text pieces, ("out", pipeline), ("range"|"if", pipeline,
    body, else_body)."""
    nodes, stack = [], []
    current, pos = nodes, 0
    for m in _ACTION.finditer(text):
        before = text[pos:m.start()]
        if m.group(1):
            before = before.rstrip()
        if before:
            current.append(before)
        pos = m.end()
        if m.group(3):  # -}}: the text after loses its leading blanks
            rest = text[pos:]
            pos += len(rest) - len(rest.lstrip())
        words = m.group(2).strip()
        keyword = words.split(None, 1)[0] if words else ""
        if keyword in ("range", "if"):
            if len(stack) >= MAX_DEPTH:  # (running it is recursive)
                raise TemplateError(f"{{{{{keyword}}}}}s nested more than {MAX_DEPTH} deep")
            node = [keyword, _pipeline(words[len(keyword):], words), [], []]
            current.append(node)
            stack.append((node, current))
            current = node[2]
        elif keyword == "else":
            if not stack or words != "else":
                raise TemplateError(f"unexpected {{{{{words}}}}}")
            current = stack[-1][0][3]
        elif keyword == "end":
            if not stack:
                raise TemplateError("{{end}} without {{range}} or {{if}}")
            current = stack.pop()[1]
        elif keyword.startswith(("$", "/*")) or keyword in ("with", "define", "template", "block", "eq", "ne",
                                                           "lt", "gt", "and", "or", "not", "printf"):
            raise TemplateError(f"{{{{{words}}}}} is not supported by pyctr's --format (fields, json, range, "
                                f"if and {', '.join(FUNCTIONS[1:])} are)")
        else:
            current.append(("out", _pipeline(words, words)))
    if stack:
        raise TemplateError(f"{{{{{stack[-1][0][0]}}}}} without {{{{end}}}}")
    tail = text[pos:]
    if tail:
        current.append(tail)
    return nodes


def _pipeline(text: str, whole: str) -> list[list[str]]:
    commands, command = [], []
    for token in _TOKEN.findall(text):
        if token == "|":
            commands.append(command)
            command = []
        else:
            command.append(token)
    commands.append(command)
    if not all(commands):
        raise TemplateError(f"empty command in {{{{{whole}}}}}")
    return commands


def render(tree: list, data) -> str:
    out: list[str] = []
    _run(tree, data, out)
    return "".join(out)


def _run(nodes: list, dot, out: list) -> None:
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif node[0] == "out":
            out.append(show(_evaluate(node[1], dot)))
        elif node[0] == "if":
            _run(node[2] if _truth(_evaluate(node[1], dot)) else node[3], dot, out)
        else:  # range
            items = _evaluate(node[1], dot)
            items = list(items.values()) if isinstance(items, dict) else items or []
            if not isinstance(items, list):
                raise TemplateError(f"range over {show(items)!r}, which is not a list")
            for item in items:
                _run(node[2], item, out)
            if not items:
                _run(node[3], dot, out)


def _truth(value) -> bool:
    return bool(value) and value != "0001-01-01T00:00:00Z"


def _evaluate(pipeline: list[list[str]], dot):
    """Each command's result goes on as the next one's last argument, as in Go."""
    value = None
    for i, command in enumerate(pipeline):
        name = command[0]
        if name in FUNCTIONS or not name.startswith((".", '"', "`")) and not _literal(name):
            args = [_argument(word, dot) for word in command[1:]] + ([value] if i else [])
            value = _command(name, args, dot)
        elif name == ".Label" and len(command) == 2 and not i:  # docker's ps and volume ls method
            value = _label(dot, _argument(command[1], dot))
        elif len(command) > 1 or i:
            raise TemplateError(f"{name} is not a function: it takes no arguments")
        else:
            value = _argument(name, dot)
    return value


def _label(dot, key) -> str:
    """`{{.Label "k"}}`: the value of the label k ("" when none), from the row's Labels (a
    dict, or docker's text k=v,k2=v2)."""
    labels = dot.get("Labels") if isinstance(dot, dict) else None
    if isinstance(labels, str):
        labels = dict(pair.partition("=")[::2] for pair in labels.split(",") if pair)
    return show((labels or {}).get(key, ""))


def _literal(word: str) -> bool:
    return bool(re.fullmatch(r"-?\d+|true|false", word))


def _command(name: str, args: list, dot):
    if name not in FUNCTIONS:
        raise TemplateError(f"function {name!r} is not supported (supported: {', '.join(FUNCTIONS)})")
    try:
        return _call(name, args, dot)
    except (TypeError, ValueError, AttributeError):  # {{join .Names 5}}, {{.ID | truncate 5}}: Go's refusal
        raise TemplateError(f"error calling {name}: wrong type of argument "
                            f"({', '.join(type(a).__name__ for a in args)})") from None


def _call(name: str, args: list, dot):
    if name == "json":
        return _Raw(json.dumps(args[0] if args else dot, separators=(",", ":")))
    if name == "println":
        return _Raw(" ".join(show(a) for a in args) + "\n")
    if name == "len":
        return len(args[0]) if args and args[0] is not None else 0
    if name == "join":
        return args[1].join(show(a) for a in (args[0] or [])) if len(args) == 2 else _arity(name)
    if name == "split":
        if len(args) != 2:
            _arity(name)
        return args[0].split(args[1]) if args[1] != "" else list(args[0])  # Go: "" splits into characters
    if name == "index":
        return _index(args)
    if name == "truncate":
        return show(args[0])[:int(args[1])] if len(args) == 2 else _arity(name)
    if len(args) != 1:
        _arity(name)
    text = show(args[0])
    return {"lower": text.lower, "upper": text.upper, "title": text.title}[name]()


def _index(args: list):
    if len(args) < 2:
        _arity("index")
    value = args[0]
    for key in args[1:]:
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            raise TemplateError(f"index of {key!r}: no such entry") from None
    return value


def _arity(name: str):
    raise TemplateError(f"wrong number of arguments to {name}")


def _argument(word: str, dot):
    if word[0] in "\"`":
        return json.loads(word) if word[0] == '"' else word[1:-1]
    if word == ".":
        return dot
    if word.startswith("."):
        return _field(dot, word)
    if re.fullmatch(r"-?\d+", word):
        return int(word)
    if word in ("true", "false"):
        return word == "true"
    raise TemplateError(f"{word!r} is not a field (.Name), a string or a number")


def _field(dot, path: str):
    value = dot
    for name in path[1:].split("."):
        if not isinstance(value, dict) or name not in value:
            raise TemplateError(f"can't evaluate field {name} in {path}")
        value = value[name]
    return value


class _Raw(str):
    """Text a function made (json, println): shown as it is."""


def show(value) -> str:
    """As Go's fmt prints a value."""
    if isinstance(value, str):
        return value
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{show(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, list):
        return "[" + " ".join(show(v) for v in value) + "]"
    return str(value)


def format_rows(fmt: str, rows: list[dict], headers: dict | None = None) -> str:
    """Each row through `fmt`; a `table` format gets a header of its fields' titles
    (`headers`, docker's: ID -> CONTAINER ID for ps) and columns aligned on its tabs
    (\\t as typed on a command line, too)."""
    table = fmt.startswith("table")
    body = fmt[len("table"):].lstrip() if table else fmt
    body = body.replace("\\t", "\t").replace("\\n", "\n")
    tree = parse(body)
    lines = [render(tree, row) for row in rows]
    if not table:
        return "".join(line + "\n" for line in lines)
    header = re.sub(r"\{\{-?\s*(?:\w+\s+)?\.(\w+)[^}]*\}\}", lambda m: _header(m.group(1), headers or {}), body)
    return _aligned([header, *lines])


def _header(field: str, headers: dict) -> str:
    """A column's title: the command's own (docker's), else the field in capitals with
    its words apart (RunningFor -> RUNNING FOR)."""
    return headers.get(field) or re.sub(r"(?<=[a-z])(?=[A-Z])", " ", field).upper()


def _aligned(lines: list[str]) -> str:
    """Go's tabwriter as docker uses it: columns padded to their widest cell, 3 spaces apart."""
    rows = [line.split("\t") for line in lines]
    widths: dict[int, int] = {}
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths.get(i, 0), len(cell))
    return "".join("".join(cell.ljust(widths[i] + 3) if i < len(row) - 1 else cell
                           for i, cell in enumerate(row)).rstrip() + "\n" for row in rows)


def formatted(fmt: str, rows: list[dict], headers: dict | None = None) -> str:
    """format_rows, its errors in the one-line, exit-125 form of every pyctr error."""
    from ..engine.errors import PyctrError
    try:
        return format_rows(fmt, rows, headers)
    except TemplateError as e:
        raise PyctrError(f"template {fmt!r}: {e}") from None
