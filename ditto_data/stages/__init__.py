"""The built-in stages, in pipeline order: curation (standardize, features, dedup, motion), then caption,
instruction, keyframe edit, depth, generate, judge and enhance; plus `cost` (what each would cost: `plan`).

Every module here that defines a stage registers it with ``@register_stage`` when imported;
:func:`load_stages` imports them all. Modules import heavy model libraries only inside backends,
so loading the stages stays cheap.
"""

import importlib
import pkgutil


def load_stages() -> None:
    for m in pkgutil.iter_modules(__path__):
        if not m.ispkg:
            importlib.import_module(f"{__name__}.{m.name}")
