"""Audio front end: opening recordings (`recording`), turning their channels into engine inputs
(`features`), and confirming speech with a learned model (`speech_confirm`).

Nothing is imported here, so that a module of the package loads without the others (the CLI
starts loading the speech model before the analysis code is imported).
"""
