"""``ditto-data view``: a dataset viewer in the browser, served locally or written as static files.

Triplets play side by side in sync (source, edited, depth, reference keyframe), with instruction,
caption, scores and provenance; a million rows are browsed a page at a time with filters and
sorting; a build's rejections are shown with their reasons, scores and clips, and its funnel and
score histograms as charts. The page is plain JS shipped in this package (no CDN).
"""

from .index import DatasetIndex, Query
from .server import create_app, serve
from .static import write_static

__all__ = ["DatasetIndex", "Query", "create_app", "serve", "write_static"]
