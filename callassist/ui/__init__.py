"""The Textual terminal UI. The only part of callassist that imports Textual."""
