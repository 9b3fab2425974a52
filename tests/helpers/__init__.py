"""Code the tests share that is not itself a test: workflow runs, small models, data sources."""
