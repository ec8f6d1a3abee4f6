"""DNS backends: the embedded authoritative server, RFC 2136 servers, Route 53."""
