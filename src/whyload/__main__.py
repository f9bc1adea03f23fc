from whyload.cli import main

main()
