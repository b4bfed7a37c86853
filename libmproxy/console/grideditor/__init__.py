"""The grid editor (spec: "Grid Editor"): structured data (headers, query, form, cookies,
replacement and set-header patterns, the list options) laid out in a grid and edited in
place.

Each ``edit_*`` function pushes an editor on the window; when the user leaves it with
``q``, the rows are checked and ``callback`` gets the edited data if it changed.
"""
from libmproxy.console.grideditor._base import GridEditor
from libmproxy.console.grideditor._editors import (
    edit_cookies, edit_form, edit_headers, edit_list, edit_query, edit_replacements,
    edit_set_cookies, edit_setheaders,
)

__all__ = ["GridEditor", "edit_headers", "edit_query", "edit_form", "edit_cookies",
           "edit_set_cookies", "edit_replacements", "edit_setheaders", "edit_list"]
