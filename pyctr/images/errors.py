"""What goes wrong with an image: a reference that names none, an image that cannot be made."""


class ImageError(Exception):
    """An image problem; str() says what, in one line, for the user."""


class InvalidReference(ImageError):
    """The text is not an image reference."""
