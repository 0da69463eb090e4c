"""The one error type of the hub room: bad archives and unpublishable folders, with a clear message."""


class HubError(Exception):
    """A user-facing failure of download/extract/pack/publish; the message names the file at fault."""


def unreachable(exc: BaseException) -> str | None:
    """If ``exc`` (or what it was raised from) is a failure to reach the Hub endpoint, one line that
    names the endpoint and the network's reason; else None. The token is never part of it."""
    import errno

    from huggingface_hub import constants

    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        name = type(e).__name__
        net = isinstance(e, (ConnectionError, TimeoutError)) or (
            isinstance(e, OSError) and e.errno in (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH))
        if net or name.endswith(("ConnectError", "ConnectTimeout", "ConnectionError", "ReadTimeout", "ProxyError")):
            cause = e
            while cause.__cause__ is not None or cause.__context__ is not None:
                cause = cause.__cause__ or cause.__context__
            return f"cannot reach the Hub at {constants.ENDPOINT}: {cause or name} (check HF_ENDPOINT and the network)"
        e = e.__cause__ or e.__context__
    return None
