"""`python -m bench` (`make bench`): the side-by-side benchmark suite of bench/suite.py."""

from bench.suite import main

raise SystemExit(main())
