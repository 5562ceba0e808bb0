"""The nurse and case-doctor console at ``/console`` (server-rendered, progressive JavaScript)."""
