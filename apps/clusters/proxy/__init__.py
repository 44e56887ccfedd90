"""The authenticated Kubernetes API proxy for kubectl (/k8s/clusters/<name>/…)."""
