"""What a scored call becomes: the report (JSON), its HTML and CSV renderings, and masking."""
