"""nftables commands through libnftables (libnftables.so.1, from Debian's libnftables1),
called with ctypes: the nft command line's language in, its text or JSON out, each call one
transaction.

Debian's own binding (python3-nftables) is this same thin ctypes wrapper, but it lives in
the system python's dist-packages, which a venv does not see; and the calls it makes are
few: a context (nft_ctx_new), JSON output or not (nft_ctx_output_set_flags), output and
errors kept in buffers (nft_ctx_buffer_output/_error), a command (nft_run_cmd_from_buffer),
its output and errors (nft_ctx_get_output_buffer/_error_buffer), nft_ctx_free at exit.
The library is loaded on the first command, so importing this module costs nothing (ctypes
itself is about 5 ms, paid only by management commands that reach here).
"""

from .. import fastjson
from .errors import NftError

_LIBRARY = "libnftables.so.1"
_OUTPUT_JSON = 1 << 4  # NFT_CTX_OUTPUT_JSON, libnftables.h
_context = None  # (library, ctx): one per process, made on first use


def _ctx():
    global _context
    if _context is None:
        import atexit
        import ctypes

        try:
            lib = ctypes.CDLL(_LIBRARY)
        except OSError as e:
            raise NftError(f"cannot load {_LIBRARY} (is libnftables1 installed?): {e}") from None
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
        for name in ("nft_ctx_buffer_output", "nft_ctx_buffer_error"):
            getattr(lib, name).argtypes = [ctypes.c_void_p]
            getattr(lib, name).restype = ctypes.c_int
        for name in ("nft_ctx_get_output_buffer", "nft_ctx_get_error_buffer"):
            getattr(lib, name).argtypes = [ctypes.c_void_p]
            getattr(lib, name).restype = ctypes.c_char_p
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
        lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
        ctx = lib.nft_ctx_new(0)  # NFT_CTX_DEFAULT
        if not ctx or lib.nft_ctx_buffer_output(ctx) or lib.nft_ctx_buffer_error(ctx):
            raise NftError("libnftables: cannot make a context")
        _context = (lib, ctx)
        atexit.register(lib.nft_ctx_free, ctx)
    return _context


def condense(error: str) -> str:
    """The library's error text in one line: what follows "Error:" on each line that has
    it (JSON input prefixes a position, "internal:0:0-0: Error: ..."), joined with "; ".
    The echoed command and the ^^^ marks under it are left out: for a command of several
    lines, 1.0.6 echoes the first line whichever one failed."""
    lines = [line.strip() for line in error.splitlines()]
    errors = [line.partition("Error:")[2].strip() for line in lines if "Error:" in line]
    return "; ".join(dict.fromkeys(errors)) or " ".join(line for line in lines if line) or "failed"


def _run(command: str, json: bool) -> str:
    lib, ctx = _ctx()
    lib.nft_ctx_output_set_flags(ctx, _OUTPUT_JSON if json else 0)
    rc = lib.nft_run_cmd_from_buffer(ctx, command.encode())
    output = (lib.nft_ctx_get_output_buffer(ctx) or b"").decode(errors="replace")
    error = (lib.nft_ctx_get_error_buffer(ctx) or b"").decode(errors="replace")
    if rc != 0:
        raise NftError(f"nftables: {condense(error)}")
    return output


def run(text: str) -> str:
    """Runs commands in nft's language (one per line: one transaction, all or nothing);
    returns what nft would print."""
    return _run(text, json=False)


def run_json(obj: dict) -> dict:
    """Runs a libnftables JSON document ({"nftables": [...]}: one transaction); returns
    the JSON output ({} when there is none, as for additions)."""
    output = _run(fastjson.dumps(obj), json=True)
    return fastjson.loads(output) if output.strip() else {}


def run_listing(text: str) -> list[dict]:
    """Runs a `list ...` command in nft's language and returns its JSON objects
    ({"table": ...}, {"rule": ...}, ...), the metainfo left out."""
    output = _run(text, json=True)
    if not output.strip():
        return []
    return [o for o in fastjson.loads(output)["nftables"] if "metainfo" not in o]
