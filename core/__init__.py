"""Descent's numerical core: pure NumPy (and sympy for expressions), no I/O."""
