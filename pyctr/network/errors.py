"""The network layer's errors: why a bridge, a rule or a published port could not be made,
in one line (the engine turns them into its own PyctrError for the user)."""


class NetworkError(Exception):
    """A network operation failed; str() says what, in one line."""


class PortInUse(NetworkError):
    """A host port (on that address, or on every address) is published already."""


class NftError(NetworkError):
    """libnftables refused a command; the message is its own error text, condensed."""
