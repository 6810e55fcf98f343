"""--format's Go-template subset (cli/template.py): what scripts write, and clear errors
for what it does not take; then through the commands."""

import json

import pytest

from pyctr.cli.template import TemplateError, format_rows

ROW = {"ID": "abc", "Names": "web", "Labels": {"a": "1"}, "List": ["x", "y"],
       "State": {"ExitCode": 0, "Running": False, "Error": None}}


@pytest.mark.parametrize("fmt,expected", [
    ("{{.ID}}", "abc\n"),
    ("{{.State.ExitCode}}", "0\n"),
    ("{{.Names | upper}}", "WEB\n"),
    ("{{upper .Names}}-{{lower \"X\"}}", "WEB-x\n"),
    ("{{json .Labels}}", '{"a":"1"}\n'),
    ("{{.Labels}} {{.List}} {{.State.Running}} {{.State.Error}}", "map[a:1] [x y] false <nil>\n"),
    ('{{join .List ","}} {{len .List}} {{index .Labels "a"}}', "x,y 2 1\n"),
    ("{{range .List}}<{{.}}>{{end}}", "<x><y>\n"),
    ("{{if .State.Running}}up{{else}}down{{end}}", "down\n"),
    ("{{- .ID -}} !", "abc!\n"),
    ("a\\tb", "a\tb\n"),
    ('{{.Label "a"}}|{{.Label "none"}}', "1|\n"),
])
def test_the_subset_scripts_use(fmt, expected):
    assert format_rows(fmt, [ROW]) == expected


def test_label_reads_docker_s_labels_text_too():
    assert format_rows('{{.Label "b"}}', [{"Labels": "a=1,b=x=y"}]) == "x=y\n"


def test_json_of_everything_and_one_line_per_row():
    out = format_rows("{{json .}}", [ROW, {**ROW, "ID": "def"}])
    assert [json.loads(line)["ID"] for line in out.splitlines()] == ["abc", "def"]


def test_table_has_a_header_and_aligned_columns_without_trailing_blanks():
    out = format_rows("table {{.ID}}\\t{{.Names}}", [ROW, {**ROW, "ID": "abcdef"}], {"ID": "CONTAINER ID"})
    assert out.splitlines() == ["CONTAINER ID   NAMES", "abc            web", "abcdef         web"]


@pytest.mark.parametrize("fmt,words", [
    ("{{.Nope}}", "can't evaluate field Nope"),
    ("{{$x := .ID}}", "not supported"),
    ('{{printf "%s" .ID}}', "not supported"),
    ("{{with .ID}}x{{end}}", "not supported"),
    ("{{range .List}}", "without {{end}}"),
    ("{{end}}", "without"),
    ("{{foo .ID}}", "not supported"),
    ("{{.ID .Names}}", "not a function"),
])
def test_what_it_does_not_take_is_an_error_that_says_so(fmt, words):
    with pytest.raises(TemplateError, match=words.replace("{", r"\{").replace("$", r"\$")):
        format_rows(fmt, [ROW])


def test_the_commands_take_templates(pyctr):
    assert pyctr("run", "--name", "done", "--net", "none", "busybox", "sh", "-c", "exit 3").returncode == 3
    assert pyctr("inspect", "-f", "{{.State.ExitCode}} {{.Name}}", "done").stdout == "3 /done\n"
    assert pyctr("ps", "-a", "--format", "{{.Names}} {{.State}}").stdout == "done exited\n"
    table = pyctr("ps", "-a", "--format", "table {{.ID}}\t{{.Names}}").stdout.splitlines()
    assert table[0] == "CONTAINER ID   NAMES" and table[1].endswith("   done")
    assert pyctr("images", "--format", "{{.Repository}}:{{.Tag}}").stdout == "busybox:latest\n"
    r = pyctr("ps", "-a", "--format", "{{.Nope}}")
    assert r.returncode == 1 and "can't evaluate field Nope" in r.stderr and len(r.stderr.splitlines()) == 1
    assert pyctr("rm", "done").returncode == 0


def test_version(pyctr):
    from pyctr import __version__
    assert pyctr("--version").stdout == f"pyctr version {__version__}\n"
    assert pyctr("version", "--format", "{{.Version}}").stdout == f"{__version__}\n"
    facts = json.loads(pyctr("version", "--format", "json").stdout)
    assert facts["Version"] == __version__ and facts["CgroupVersion"] in ("v1", "v2")
    assert "Version:" in pyctr("version").stdout
