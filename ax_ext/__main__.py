from ax_ext.cli import run

run()
