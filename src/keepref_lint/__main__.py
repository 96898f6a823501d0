from keepref_lint.cli import main

raise SystemExit(main())
