"""The policy directory: customers, policies, verified channel identities, consents, lockouts."""
