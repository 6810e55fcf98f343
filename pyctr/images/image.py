"""An image as pyctr keeps it: its id, layers (lowest first), OCI image config and tag."""

from ..records import record

# the PATH of an image that sets none (docker's)
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@record
class Image:
    id: str  # sha256 of the image config, hex
    created: float
    size: int
    layers: list[str]  # layer digests (hex), lowest first
    config: dict  # the OCI image config
    repository: str = ""
    tag: str = ""
