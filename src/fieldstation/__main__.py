from fieldstation.cli import main

main()
