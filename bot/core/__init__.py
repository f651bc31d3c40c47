"""The gateway's core contracts: channel-neutral messages, the one list of gateway commands, the rate
limit, the knowledge base read off the event loop."""
