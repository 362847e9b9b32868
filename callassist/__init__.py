"""callassist: an offline call-centre script assistant for Mandarin-speaking phone agents."""

__version__ = "0.1.0"
