from patchlens.cli import main

main()
