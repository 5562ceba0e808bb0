"""Human handoff inside the public server: pause the bot, relay staff replies, resume."""
