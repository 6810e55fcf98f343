"""What goes wrong with networks, as exceptions the engine turns into one-line errors."""


class NetworkError(Exception):
    """Bad input or a state that refuses the change: the message says which."""


class PortInUse(NetworkError):
    """A host port another container publishes already."""


class NftError(NetworkError):
    """libnftables refused a command: its own words, condensed to a line."""
