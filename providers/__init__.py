"""Price sources: the bundled catalog, live refresh from cloud APIs, the user's own CSV, the cache."""
