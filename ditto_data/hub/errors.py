"""The one error type of the hub room: bad archives and unpublishable folders, with a clear message."""


class HubError(Exception):
    """A user-facing failure of download/extract/pack/publish; the message names the file at fault."""
