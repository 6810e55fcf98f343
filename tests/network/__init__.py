"""Network tests: a package, so that test modules here may share names with others."""
