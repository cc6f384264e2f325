"""asv benchmark suites for xsweep (also collected as quick tests)."""
