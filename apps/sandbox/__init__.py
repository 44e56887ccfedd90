"""The sandbox app: kubesim, a Kubernetes API simulator for tests and the demo."""
