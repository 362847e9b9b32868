from callassist.cli import run

run()
