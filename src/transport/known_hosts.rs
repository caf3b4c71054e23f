//! known_hosts lookup and accept-new appends.
