"""Shell completion: `pyctr completion bash|zsh|fish` prints a script, and the script asks
`pyctr __complete` for each TAB's candidates.

The script carries the command tree (commands, their flags, what each argument names),
taken from the typer CLI when it is printed, as docker's completion scripts carry theirs;
it pipes that tree into `pyctr __complete` with the words typed so far.  So a TAB costs
an interpreter start and a read-only look into the store for names, and never loads
typer, click or rich (main.py sends `__complete` here before anything else).

    pyctr __complete -- WORD... CURRENT   (zsh, fish: the words after `pyctr`)
    pyctr __complete --bash LINE          (bash: the line up to the cursor)

It prints one candidate a line; `::files` alone asks the shell for file names.
"""

import os
import sys

from .. import fastjson

FILES = "::files"
# commands whose container argument is a running one, or a stopped one
RUNNING_ONLY = {"exec", "stop", "kill", "pause", "unpause", "top", "attach", "stats", "update"}
STOPPED_ONLY = {"start"}
# what an option's value names
OPTION_VALUES = {"--network": "network", "--net": "network", "--volumes-from": "container",
                 "--env-file": "file", "--label-file": "file", "--cidfile": "file", "-o": "file",
                 "--output": "file", "-i": "file", "--input": "file", "--root": "file", "--runroot": "file"}
# bash splits words at these (COMP_WORDBREAKS): what it replaces starts after the last one
BASH_BREAKS = ":="


# the tree, from the click command the typer CLI builds (only when a script is printed)

def _kind(param) -> str:
    """What a positional argument names: container, image, volume, network, or both
    container and image (inspect); "" for anything else."""
    text = f"{getattr(param, 'metavar', None) or ''} {param.name}".upper()
    kinds = [k for k in ("CONTAINER", "IMAGE", "VOLUME", "NETWORK") if k in text]
    if not kinds and text.split()[0].startswith("NAME") and param.name == "names":
        kinds = ["CONTAINER", "IMAGE"]
    return ",".join(k.lower() for k in kinds)


def tree(command, path: str = "", out: dict | None = None) -> dict:
    """path -> {c: subcommands, v: options taking a value, s: switches, a: argument kinds
    by position, r: the last one repeats, x: options only before the first argument}."""
    out = {} if out is None else out
    values, switches, kinds, repeats = [], [], [], False
    for param in command.params:
        if getattr(param, "hidden", False):
            continue
        if param.param_type_name == "option":
            names = [*param.opts, *param.secondary_opts]
            (switches if param.is_flag or param.count else values).extend(names)
        else:
            kinds.append(_kind(param))
            repeats = param.nargs == -1
    switches.append("--help")
    subcommands = {name: sub for name, sub in getattr(command, "commands", {}).items() if not sub.hidden}
    out[path] = {"c": sorted(subcommands), "v": values, "s": switches, "a": kinds, "r": repeats,
                 "x": not command.context_settings.get("allow_interspersed_args", True)}
    for name, sub in subcommands.items():
        tree(sub, f"{path} {name}".strip(), out)
    return out


BASH = """# pyctr completion for bash: source <(pyctr completion bash)
_pyctr_tree='TREE'
_pyctr() {
    local IFS=$'\\n'
    local -a out
    out=($(printf '%s' "$_pyctr_tree" | command pyctr __complete --bash "${COMP_LINE:0:COMP_POINT}" 2>/dev/null))
    if [[ "${out[0]}" == "::files" ]]; then
        compopt -o default 2>/dev/null
        COMPREPLY=()
        return
    fi
    COMPREPLY=("${out[@]}")
}
complete -F _pyctr pyctr
"""

ZSH = """#compdef pyctr
# pyctr completion for zsh: source <(pyctr completion zsh)
_pyctr_tree='TREE'
_pyctr() {
    local -a out
    out=(${(f)"$(print -rn -- "$_pyctr_tree" | command pyctr __complete -- "${(@)words[2,CURRENT]}" 2>/dev/null)"})
    if [[ "$out[1]" == "::files" ]]; then
        _files
        return
    fi
    compadd -Q -- "${out[@]}"
}
compdef _pyctr pyctr
"""

FISH = """# pyctr completion for fish: pyctr completion fish | source
set -g __pyctr_tree 'TREE'
function __pyctr_complete
    set -l words (commandline -opc) (commandline -ct)
    set -l out (printf '%s' $__pyctr_tree | command pyctr __complete -- $words[2..-1] 2>/dev/null)
    if test "$out[1]" = "::files"
        __fish_complete_path (commandline -ct)
    else
        printf '%s\\n' $out
    end
end
complete -c pyctr -f -a '(__pyctr_complete)'
"""


def script(shell: str, command) -> str:
    """The completion script for `shell`, with the CLI's tree in it."""
    text = fastjson.dumps(tree(command))
    if "'" in text or "\\" in text:  # flag and command names never have them: kept out of quoting's way
        raise ValueError("a command or flag name with a quote or backslash")
    return {"bash": BASH, "zsh": ZSH, "fish": FISH}[shell].replace("TREE", text)


# a TAB: no typer, click or rich from here on

def main(args: list[str]) -> int:
    """`pyctr __complete`: the tree on stdin, the words as arguments; candidates out."""
    chunks = []
    if not os.isatty(0):
        while True:
            chunk = os.read(0, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    try:
        commands = fastjson.loads(b"".join(chunks).decode())
    except ValueError:
        return 0
    breaks = ""
    if args[:1] == ["--bash"] and len(args) == 2:
        line = args[1]
        words = line.split()
        if not line or line[-1].isspace():
            words.append("")
        words, breaks = words[1:] or [""], BASH_BREAKS  # after `pyctr`
    elif args[:1] == ["--"]:
        words = args[1:] or [""]
    else:
        return 0
    try:
        found = candidates(commands, words, os.environ)
    except (LookupError, TypeError, AttributeError):  # a tree of another shape (a script an older pyctr printed)
        return 0
    current = words[-1]
    cut = max((current.rfind(c) for c in breaks), default=-1) + 1
    sys.stdout.write("".join(f"{c[cut:] if c != FILES else c}\n" for c in found))
    sys.stdout.flush()
    return 0


def candidates(commands: dict, words: list[str], environ=os.environ) -> list[str]:
    """What may follow: `words` are those after `pyctr`, the last the one being typed
    (maybe "")."""
    current, before = words[-1], words[:-1]
    path, node, positional, root = "", commands.get(""), 0, None
    if node is None:
        return []
    i, options_over = 0, False
    while i < len(before):
        word = before[i]
        i += 1
        if word == "--" and not options_over:
            options_over = True
            continue
        if word.startswith("-") and word != "-" and not options_over:
            name = word.split("=", 1)[0]
            if name in node["v"] and "=" not in word:
                if i < len(before) and path == "" and name == "--root":
                    root = before[i]
                i += 1  # its value
            elif path == "" and name == "--root" and "=" in word:
                root = word.split("=", 1)[1]
            continue
        sub = f"{path} {word}".strip()
        if positional == 0 and sub in commands:
            path, node = sub, commands[sub]
            continue
        positional += 1
        if node["x"]:
            options_over = True  # run, exec: after the first argument, everything is the command's
    previous = before[-1] if before else ""
    if not options_over and previous in node["v"]:
        kind = OPTION_VALUES.get(previous, "")
        if kind == "file":
            return [FILES]
        return _names(kind, path, current, root, environ) if kind else []
    if current.startswith("-") and not options_over:
        return sorted(f for f in (*node["v"], *node["s"]) if f.startswith(current))
    if positional == 0 and node["c"]:
        return [c for c in node["c"] if c.startswith(current)]
    kinds = node["a"]
    if positional < len(kinds):
        kind = kinds[positional]
    elif kinds and node["r"]:
        kind = kinds[-1]
    else:
        return []
    return _names(kind, path, current, root, environ)


def _names(kinds: str, path: str, prefix: str, root: str | None, environ) -> list[str]:
    """Names of the store's objects of `kinds` (comma-separated) starting with `prefix`:
    for verbs that act on running containers only the running ones, for start the rest."""
    if not kinds:
        return []
    from ..engine.paths import Paths
    from ..engine.store import peek_names
    verb = path.split()[-1] if path else ""
    found = []
    for kind, name, status in peek_names(Paths.resolve(root or environ.get("PYCTR_ROOT")).db, kinds.split(",")):
        if kind == "container" and (verb in RUNNING_ONLY and status != "running"
                                    or verb in STOPPED_ONLY and status == "running"):
            continue
        found.append(name)
    return sorted({name for name in found if name.startswith(prefix)})
