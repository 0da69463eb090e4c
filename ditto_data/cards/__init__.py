"""The dataset card: template, renderer (from the dataset on disk), offline validator, teaser image."""

from .render import refresh_configs, render_card, write_card
from .validate import CardError, card_problems, validate_card

__all__ = ["CardError", "card_problems", "refresh_configs", "render_card", "validate_card", "write_card"]
