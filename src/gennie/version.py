"""gennie's version: declared here once (the package metadata reads it too)."""

VERSION = "0.1.0"
