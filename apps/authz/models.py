"""Authorization models arrive with the policy layer; the placeholder needs none."""
