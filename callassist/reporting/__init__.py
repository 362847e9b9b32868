"""What a scored call becomes: the report (typed objects and their JSON), its HTML, CSV and text
renderings, and masking."""

SCHEMA = "callassist.report/2"  # here, not in report.py: batch checks it without loading the engine
