"""The dataset card: template, renderer (from the dataset on disk), offline validator, teaser image."""

from .render import render_card, write_card
from .validate import CardError, card_problems, validate_card

__all__ = ["CardError", "card_problems", "render_card", "validate_card", "write_card"]
