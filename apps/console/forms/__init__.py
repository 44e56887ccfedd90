"""Console forms for Kubernetes objects that keep every field they do not show."""
