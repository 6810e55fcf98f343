"""runtime/external.py's pure parts: the runtime's one-line message out of runc's logrus
text, crun's prefix or a json --log, and its meaning as container.py's errors."""

import pytest

from pyctr.runtime import external
from pyctr.runtime.errors import CgroupError, NoSuchContainer, NotRunning, RuntimeFailure


@pytest.mark.parametrize("output, message", [
    ('time="2026-12-07T21:34:23Z" level=error msg="container does not exist"\n', "container does not exist"),
    ('time="x" level=warning msg="ignored"\ntime="y" level=error msg="say \\"hi\\" now"\n', 'say "hi" now'),
    ("crun: kill container: No such process\n", "kill container: No such process"),
    ('{"level":"error","msg":"exec: \\"nope\\": executable file not found in $PATH","time":"t"}\n',
     'exec: "nope": executable file not found in $PATH'),
    ('{"level":"info","msg":"fine"}\n{"msg":"last words","level":"error"}\n', "last words"),
    ("", ""),
])
def test_one_line(output, message):
    assert external.one_line(output) == message


@pytest.mark.parametrize("message, kind", [
    ("container does not exist", NoSuchContainer),
    ("error opening file `/r/x/status`: No such file or directory", NoSuchContainer),
    ("container not running", NotRunning),
    ("process already finished", NotRunning),
    ("cannot set memory limit: invalid argument", CgroupError),
])
def test_classify(message, kind):
    error = external.classify(message, "abc", CgroupError)
    assert type(error) is kind
    assert str(error) == (message if kind is CgroupError else str(error))


def test_exit_codes_are_dockers():
    assert external.exit_code('exec: "x": executable file not found in $PATH', 125) == 127
    assert external.exit_code("exec /bin/x: permission denied", 125) == 126
    assert external.exit_code("cannot apply limits", 125) == 125


def test_argv_names_the_root_first():
    rt = external.External("/usr/bin/runc", "/run/pyctr/runtimes/runc")
    assert rt.argv("kill", "--all", "id", "9") == ["/usr/bin/runc", "--root", "/run/pyctr/runtimes/runc",
                                                   "kill", "--all", "id", "9"]


def test_resolve():
    with pytest.raises(RuntimeFailure, match="unknown runtime 'no-such-rt': no such executable on PATH"):
        external.resolve("no-such-rt")
    assert external.resolve("/bin/sh") == "/bin/sh"
