"""Catalogue import: a YAML file staff can edit → regions, districts, centres, courses,
groups and class sessions in the database.

Two steps, kept apart so each can be tested on its own:

* ``parse_catalog(text)`` is pure. It reads the YAML with PyYAML's node API so that every
  value keeps its line number, checks everything it can without a database, and returns
  frozen dataclasses — or raises ``CatalogError`` listing *all* problems, each as data
  (line, where, a message key and its parameters) that the bot renders in the staff
  member's language and the command line in English.
* ``apply_catalog(db, data)`` upserts by ``code`` in one transaction (all or nothing).
  References to codes not in the file are looked up in the database, so a partial file
  (say, only ``groups:`` with new timetables) works. Rows that are in the database but not
  in the file are kept, ``Group.seats_taken`` is never written, and importing the same
  file twice changes nothing.

The file format is described for programme staff in ``catalog/README.md``.

The package, by concern:

* ``problems``   — ``Problem`` and ``Text``: what the import says, as keys for the locales;
* ``model``      — sections, limits, the parsed dataclasses, ``ImportReport``, ``CatalogError``;
* ``reader``     — ``FieldReader``: one YAML value → one checked field, with its line;
* ``parsing``    — ``parse_catalog`` and one parser per section (add a section here);
* ``validation`` — checks across the entries of a file (codes used twice, clashes);
* ``writing``    — ``apply_catalog`` / ``import_catalog``: upsert into the database.
"""

from bot.services.catalog.model import (
    CODE_MAX,
    COUNTRIES,
    KINDS,
    ROOM_MAX,
    SECTIONS,
    WEEKDAYS,
    CatalogData,
    CatalogError,
    CentreData,
    Counts,
    CourseData,
    DistrictData,
    GroupData,
    ImportReport,
    RegionData,
    SessionData,
)
from bot.services.catalog.parsing import parse_catalog
from bot.services.catalog.problems import (
    Problem,
    Render,
    Text,
    render_cli,
    render_line,
    render_problem,
)
from bot.services.catalog.writing import apply_catalog, import_catalog, preview_catalog

__all__ = [
    "CODE_MAX",
    "COUNTRIES",
    "KINDS",
    "ROOM_MAX",
    "SECTIONS",
    "WEEKDAYS",
    "CatalogData",
    "CatalogError",
    "CentreData",
    "Counts",
    "CourseData",
    "DistrictData",
    "GroupData",
    "ImportReport",
    "Problem",
    "RegionData",
    "Render",
    "SessionData",
    "Text",
    "apply_catalog",
    "import_catalog",
    "parse_catalog",
    "preview_catalog",
    "render_cli",
    "render_line",
    "render_problem",
]
