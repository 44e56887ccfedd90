"""API routes of the proxy package (the kubeconfig endpoint)."""

urlpatterns: list = []
