"""A deterministic, realistic demo network of partners, at demo size or at benchmark scale."""
