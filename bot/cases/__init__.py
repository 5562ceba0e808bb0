"""Cases handed to nurses and case doctors: the store, and the service API the console and
channels use (queue, claim, reply, note, transfer, close)."""
