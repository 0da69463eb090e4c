"""The paper's model backends for the Ditto stages (transformers / diffusers).

Each module holds one backend class named in a stage's ``backends`` table; the class subclasses
:class:`ModelBackend` and its stage's family (:mod:`.families`), is built with the stage config (a
:class:`~ditto_data.builders.stage.ModelStageConfig`), declares its ``resources``, loads its
weights once in ``setup()`` from ``config.model`` (a local folder or a Hub id; nothing is fetched
unless the user's environment allows it) and exposes ``model_info`` for the stage's provenance.
torch, transformers and diffusers are imported only inside the backends.

The shared machinery is public here for other users of models (evaluation): the base class, its
error, and the device and dtype choice.
"""

from ._base import BackendError, ModelBackend, resolve_device, resolve_dtype

__all__ = ["BackendError", "ModelBackend", "resolve_device", "resolve_dtype"]
