"""Container networks: bridges, veth pairs, addresses and the nftables rules that publish
ports, below the engine (which keeps networks and leases in its store) and above the leaf
helpers; nothing here imports the engine or the runtime."""
