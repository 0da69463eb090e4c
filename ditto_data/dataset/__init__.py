"""What a dataset is, whoever made it: its columns and configs, and the one reader of its tree.

Exports write what is described here, the card, loaders, evaluation and the viewer read it; it
sits below all of them and imports none of them.
"""
