"""Access management in the console: users, groups, API keys, policies, roles, bindings and
identity providers — authorized exactly as ``apps/accounts/api`` and ``apps/authz/api`` (same
action names, resource paths, owners and object grants) and written through the same service
functions, so the audit trail records the API's action names once."""
