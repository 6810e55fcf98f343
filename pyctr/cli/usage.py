"""Usage errors as shown: click's "did you mean" kept only for a close match.  click
offers whatever difflib's default cutoff (0.6) lets through, so `--usr` got `--cpus` beside
`--user`, and `stp` got `top` beside `stop`; a suggestion here must be a near miss."""

from difflib import SequenceMatcher

CUTOFF = 0.8  # --usr -> --user (0.91), not --cpus (0.73); stp -> stop (0.86), not top (0.67)


def close_matches(word: str, choices) -> list[str]:
    """The choices a likely typo of `word`, best first (at most three)."""
    scored = []
    for choice in choices:
        ratio = SequenceMatcher(None, word, choice).ratio()
        if ratio >= CUTOFF:
            scored.append((-ratio, choice))
    return [choice for _, choice in sorted(scored)[:3]]


def reworded(error) -> str:
    """A typer/click usage error's one line, its suggestions held to close_matches."""
    from typer._click.exceptions import NoSuchOption, UsageError
    if isinstance(error, NoSuchOption):
        error.possibilities = close_matches(error.option_name, error.possibilities or ())
        if error.possibilities:
            return f"{error.message}. Did you mean {' or '.join(error.possibilities)}?"
        return error.message
    message = error.format_message()
    if isinstance(error, UsageError) and message.startswith("No such command") and error.ctx is not None:
        message = message.split(". Did you mean", 1)[0].rstrip(".")
        typo = message.partition("'")[2].rpartition("'")[0]
        group = error.ctx.command
        commands = [name for name in getattr(group, "commands", {}) if not group.commands[name].hidden]
        matches = close_matches(typo, commands)
        return f"{message}. Did you mean {' or '.join(repr(m) for m in matches)}?" if matches else message + "."
    return message


def tidy_help(app) -> None:
    """Each command's line in its group's list: the first paragraph of its docstring as
    one line, for rich to wrap at the terminal's width.  Left alone, typer's rich mode keeps
    the docstring's own line breaks there, and `pyctr --help` at 80 columns broke
    sentences mid-line."""
    import inspect
    for info in app.registered_commands:
        if info.short_help is None:
            doc = info.help or (info.callback.__doc__ if info.callback else None) or ""
            info.short_help = " ".join(inspect.cleandoc(doc).split("\n\n")[0].split())
    for group in app.registered_groups:
        tidy_help(group.typer_instance)
