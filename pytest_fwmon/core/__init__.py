"""pytest-free, standard-library-only shared model: findings, report, config, cache."""
