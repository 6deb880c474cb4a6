"""Use cases, settings and session stores: everything between HTTP and the numerical core."""
