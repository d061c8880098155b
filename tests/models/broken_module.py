"""A module that fails while importing, as a user's module with a missing dependency would."""

import not_an_installed_package  # noqa: F401
