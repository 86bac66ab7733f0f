"""Who may do what: logins, roles and scopes, accounts, the audit log, HTTP hardening."""
