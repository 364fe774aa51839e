"""AEP Local's web console under ``/console/``: a read-only view of what the API calls built, organised like
Experience Platform's UI for the ingestion flow (Sources, dataflow activity, Datasets, Schemas, a SQL box), per
sandbox.

A front door beside the REST skin (:mod:`aep_magics.local.server` mounts it; it imports no server code): every page
reads through the handlers the REST routes use (``App.serve_call``), so what it shows is what the API returns, and
each page names the API calls behind it. Access goes through AEP Local's IMS (:mod:`.routes`); pages are rendered
from :mod:`.views` with jinja2 templates and one CSS file, no JavaScript.
"""

from __future__ import annotations

from .routes import Console

__all__ = ["Console"]
