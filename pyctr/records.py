"""@record: what pyctr used @dataclass for (an __init__ from the annotated fields with their
defaults, __eq__ and __repr__), without importing `dataclasses`.  That import pulls in
`inspect`, `ast` and `dis`: about 5 ms of every `pyctr run`, which is a fifth of what the
interpreter itself costs to start (benchmarks/RESULTS.md).

    @record
    class Options:
        image: str
        env: list = []            # a list or dict default is copied for each instance
        resources: Limits = factory(Limits)
"""


class factory:
    """A default made by calling `make()` for each instance."""

    def __init__(self, make):
        self.make = make


def _default(value):
    if isinstance(value, factory):
        return value.make()
    if isinstance(value, (list, dict)):
        return type(value)(value)
    return value


def record(cls):
    names = tuple(cls.__dict__.get("__annotations__", {}))
    defaults = {n: cls.__dict__[n] for n in names if n in cls.__dict__}

    def __init__(self, *args, **kwargs):
        if len(args) > len(names):
            raise TypeError(f"{cls.__name__} takes {len(names)} fields, got {len(args)}")
        values = dict(zip(names, args))
        for key, value in kwargs.items():
            if key not in names or key in values:
                raise TypeError(f"{cls.__name__}: unexpected or repeated field {key!r}")
            values[key] = value
        for name in names:
            if name in values:
                setattr(self, name, values[name])
            elif name in defaults:
                setattr(self, name, _default(defaults[name]))
            else:
                raise TypeError(f"{cls.__name__}: missing field {name!r}")

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in names)

    def __repr__(self):
        return f"{cls.__name__}({', '.join(f'{n}={getattr(self, n)!r}' for n in names)})"

    cls.__init__, cls.__eq__, cls.__repr__, cls.__hash__ = __init__, __eq__, __repr__, None
    cls.__fields__ = names
    for name in defaults:  # instances carry their own; a shared list must not be reachable
        delattr(cls, name)
    return cls


def as_dict(obj) -> dict:
    return {n: getattr(obj, n) for n in obj.__fields__}
