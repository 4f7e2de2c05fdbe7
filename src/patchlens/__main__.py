from patchlens.cli import run

run()
