"""The two comparison apps the service is measured against; each answers the same URLs and JSON."""
