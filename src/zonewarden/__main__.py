from zonewarden.cli.main import main

main()
