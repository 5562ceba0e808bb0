"""The nurse and case-doctor console's accounts and sessions (the web pages come with issue 6)."""
